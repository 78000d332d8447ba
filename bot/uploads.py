"""Uploaded photos decoded and written anew: upright, bounded in size, without EXIF/GPS or other metadata;
uploaded voice recordings recognised by their first bytes."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

FORMATS = ("JPEG", "PNG", "GIF", "WEBP")  # the only decoders a web upload may reach
MAX_SIDE = 2560  # longest side of a stored photo, in pixels
MAX_PIXELS = 24_000_000  # what may be decoded at once (after a JPEG's reduced decode): ~96 MB of RGBA
JPEG_QUALITY = 85


class NotAnImage(ValueError):
    """The bytes are not a photo we can read (or only a broken one)."""


class TooManyPixels(ValueError):
    """The photo claims more pixels than we decode."""


def reencode(data: bytes, max_side: int = MAX_SIDE) -> tuple[bytes, str]:
    """A stored copy of an uploaded photo and its extension: JPEG, or PNG when it has transparency."""
    image = _open(data, max_side)
    if image.width * image.height > MAX_PIXELS:
        raise TooManyPixels(f"{image.width}×{image.height} pixels")
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise NotAnImage(str(exc)) from None
    if image.mode not in ("P", "1"):
        # Shrunk before any copy is made (turning, colour conversion): each copy then costs little.
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    try:
        upright = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError):  # broken EXIF: the pixels as they came
        upright = image
    alpha = upright.has_transparency_data
    mode = "RGBA" if alpha else "RGB"
    clean = _to_srgb(upright, mode)
    clean.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    clean.info = {}  # nothing of the original's metadata (EXIF, GPS, XMP, comments, profiles) is written
    out = io.BytesIO()
    if alpha:
        clean.save(out, "PNG")
        return out.getvalue(), "png"
    clean.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue(), "jpg"


def _open(data: bytes, max_side: int) -> Image.Image:
    """The photo's header read (pixels not yet decoded), a JPEG set to decode at a reduced scale."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own bound is stricter
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError as exc:
        raise TooManyPixels(str(exc)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise NotAnImage(str(exc)) from None
    image.draft("RGB", (max_side, max_side))  # a JPEG decodes at 1/2, 1/4 or 1/8: far less memory
    return image


def _to_srgb(image: Image.Image, mode: str) -> Image.Image:
    """The image in `mode`, its colours moved into sRGB when it carries an ICC profile (phones use P3)."""
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(image, source, srgb, outputMode=mode)
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # an unreadable profile: the pixels as they are
    if image.mode == "P" and mode == "RGB":
        image = image.convert("RGBA")  # a palette image's colours, then without its (unused) alpha
    return image.convert(mode)


def audio_extension(data: bytes) -> str | None:
    """The extension a voice recording is stored under, read from its first bytes (not from what the
    browser claims): WebM, Ogg, MP4/AAC, MP3 or WAV; None for anything else."""
    head = data[:16]
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: WebM (Chrome's and Firefox's MediaRecorder)
        return "webm"
    if head.startswith(b"OggS"):
        return "ogg"
    if head[4:8] == b"ftyp":  # ISO base media: Safari's MediaRecorder writes audio/mp4
        return "m4a"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"ID3"):
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # A frame sync: layer bits 00 is ADTS AAC, anything else an MPEG audio frame (MP3).
        return "aac" if head[1] & 0x06 == 0 else "mp3"
    return None

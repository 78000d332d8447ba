"""`linli invite … --qr FILE.png`: a printable QR code for a new or an existing (demo) invite, opening the
Official Account when WeChat is set up, else the web chat with the invite filled in.

No QR decoder is installed, so an image is checked by making the expected code again with segno from
the content it should hold and comparing the pixels, plus its size and its white quiet zone.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import segno
from PIL import Image, ImageChops
from sqlmodel import select

from bot.clock import FixedClock
from bot.invite_qr import BORDER, PRINT_PIXELS, write_png
from db.models import Invite
from tests.conftest import TEST_KEYS, make_app
from tests.support.cli import run
from tests.support.wechat_oauth_double import ACCESS_TOKEN, APP_ID, APP_SECRET, WeChatOAuthDouble, serve

PUBLIC = "https://linli.example.cn"
HOME_102 = "铁西区/北沟街道/英雄社区/阳光花园/1栋/1单元/102"


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str, clock: FixedClock
) -> Iterator[dict[str, str]]:
    """The CLI's environment: a database with the demo loaded (its codes exist), a public address, no
    WeChat; `.env` files out of reach."""
    for name in list(os.environ):
        if name.startswith(("WECHAT_", "WECOM_", "TELEGRAM_", "WEB_", "LINLI_", "DATABASE_")):
            monkeypatch.delenv(name)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    values = {
        "LINLI_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": sqlite_url,
        "WEB_PUBLIC_URL": PUBLIC,
        **TEST_KEYS,
    }
    make_app(sqlite_url, tmp_path, clock).engine.dispose()  # loads the demo organisation and codes
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    yield values


@pytest.fixture
def wechat(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[WeChatOAuthDouble]:
    """WeChat set up, its API served by the double over HTTP."""
    double = WeChatOAuthDouble()
    with serve(double) as base:
        for name, value in {
            "WECHAT_APP_ID": APP_ID,
            "WECHAT_APP_SECRET": APP_SECRET,
            "WECHAT_TOKEN": "callbacktoken",
            "WECHAT_API_BASE_URL": base,
        }.items():
            monkeypatch.setenv(name, value)
        yield double


def pixels(image: Image.Image) -> Image.Image:
    return image.convert("L")


def assert_qr_of(path: Path, content: str) -> None:
    """The PNG at `path` is a printable QR code made from `content`, with its quiet zone."""
    written = pixels(Image.open(path))
    width, height = written.size
    assert width == height and width >= PRINT_PIXELS
    modules = segno.make_qr(content, error="m").symbol_size(scale=1, border=BORDER)[0]
    assert width % modules == 0
    scale = width // modules
    expected = io.BytesIO()
    segno.make_qr(content, error="m").save(expected, kind="png", scale=scale, border=BORDER)
    difference = ImageChops.difference(written, pixels(Image.open(expected))).getbbox()
    assert difference is None, f"not the QR code of {content}"
    margin = BORDER * scale
    for box in ((0, 0, width, margin), (0, 0, margin, height), (width - margin, 0, width, height)):
        assert written.crop(box).getextrema() == (255, 255), "the quiet zone is not white"
    assert written.crop((margin, margin, width - margin, width - margin)).getextrema() == (0, 255)


def test_the_check_tells_a_code_made_from_another_content(tmp_path: Path) -> None:
    path = tmp_path / "other.png"
    write_png(f"{PUBLIC}/chat?invite=DEMO-OWNES", path)  # same length, same size: only the content differs
    assert_qr_of(path, f"{PUBLIC}/chat?invite=DEMO-OWNES")
    with pytest.raises(AssertionError, match="not the QR code of"):
        assert_qr_of(path, f"{PUBLIC}/chat?invite=DEMO-OWNER")


def test_a_demo_invite_qr_opens_the_web_chat(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "entrance.png"
    status, out, err = run(["invite", "--code", "demo-owner", "--qr", str(path)], capsys)
    assert (status, err) == (0, "")
    link = f"{PUBLIC}/chat?invite=DEMO-OWNER"
    assert out.splitlines()[0] == "DEMO-OWNER"
    assert f"QR code: {path}" in out and f"opens {link}" in out
    assert_qr_of(path, link)


def test_a_new_invite_qr_opens_the_web_chat_with_its_code(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "102.png"
    status, out, err = run(["invite", HOME_102, "--role", "tenant", "--qr", str(path)], capsys)
    assert (status, err) == (0, "")
    code = out.splitlines()[0]
    assert_qr_of(path, f"{PUBLIC}/chat?invite={code}")


def test_with_wechat_the_qr_is_the_official_accounts_for_the_invite(
    wechat: WeChatOAuthDouble, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "102.png"
    status, out, err = run(["invite", HOME_102, "--role", "tenant", "--qr", str(path)], capsys)
    assert (status, err) == (0, "")
    code = out.splitlines()[0]
    [token] = wechat.calls_to("/cgi-bin/stable_token")
    assert token.body == {
        "grant_type": "client_credential",
        "appid": APP_ID,
        "secret": APP_SECRET,
        "force_refresh": False,  # the running service's token stays valid
    }
    [created] = wechat.calls_to("/cgi-bin/qrcode/create")
    assert created.params["access_token"] == ACCESS_TOKEN
    scene = {"scene": {"scene_str": code}}
    assert created.body == {"action_name": "QR_LIMIT_STR_SCENE", "action_info": scene}
    url = wechat.qr_url(code)
    assert f"opens {url}" in out and f"joins with {code}" in out
    assert_qr_of(path, url)


def test_with_wechat_a_demo_invite_gets_its_official_account_qr(
    wechat: WeChatOAuthDouble, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "demo.png"
    status, out, _ = run(["invite", "--code", "DEMO-TENANT", "--qr", str(path)], capsys)
    assert status == 0 and out.splitlines()[0] == "DEMO-TENANT"
    [created] = wechat.calls_to("/cgi-bin/qrcode/create")
    assert created.body["action_info"]["scene"]["scene_str"] == "DEMO-TENANT"
    assert_qr_of(path, wechat.qr_url("DEMO-TENANT"))


def test_when_wechat_refuses_no_image_is_written_and_the_invite_is_kept(
    wechat: WeChatOAuthDouble,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("WECHAT_APP_SECRET", "a-secret-wechat-does-not-know")
    path = tmp_path / "102.png"
    status, out, err = run(["invite", HOME_102, "--qr", str(path)], capsys)
    assert status == 1 and not path.exists()
    assert "40125" in err and "Traceback" not in err
    code = out.splitlines()[0]
    assert f"linli invite --code {code} --qr {path}" in err
    assert wechat.calls_to("/cgi-bin/qrcode/create") == []
    status, out, err = run(["invite", "--code", code], capsys)
    assert status == 0 and out.splitlines()[0] == code  # kept: the retry works


def test_an_unknown_or_used_up_code_is_refused(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.png"
    status, _, err = run(["invite", "--code", "NO-SUCH-CODE", "--qr", str(path)], capsys)
    assert status == 1 and "no invite 'NO-SUCH-CODE'" in err and not path.exists()
    status, out, _ = run(["invite", HOME_102, "--role", "tenant"], capsys)
    code = out.splitlines()[0]
    from db.engine import make_engine, session_factory

    engine = make_engine(env["DATABASE_URL"])
    with session_factory(engine)() as session:
        invite = session.exec(select(Invite).where(Invite.code == code)).one()
        invite.uses_left = 0
        session.commit()
    engine.dispose()
    status, _, err = run(["invite", "--code", code, "--qr", str(path)], capsys)
    assert status == 1 and "used up" in err and not path.exists()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["invite", "--code", "DEMO-OWNER", HOME_102], "--code prints an existing invite"),
        (["invite", "--code", "DEMO-OWNER", "--role", "tenant"], "--code prints an existing invite"),
        (["invite"], "give the HOME"),
        (["invite", "--code", "DEMO-OWNER", "--qr", "entrance.svg"], "give a .png file"),
        (["invite", "--code", "DEMO-OWNER", "--qr", "/no/such/folder/e.png"], "give a .png file"),
    ],
)
def test_contradictory_arguments_stop_with_one_line(
    env: dict[str, str], argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(argv, capsys)
    assert status == 2 and out == ""
    [line] = err.strip().splitlines()
    assert line.startswith("linli: ") and says in line


def test_without_a_public_address_the_qr_warns_that_phones_cannot_open_it(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("WEB_PUBLIC_URL")
    path = tmp_path / "e.png"
    status, out, err = run(["invite", "--code", "DEMO-OWNER", "--qr", str(path)], capsys)
    assert status == 0 and path.exists() and "opens http://127.0.0.1:8080/chat?invite=DEMO-OWNER" in out
    assert "WEB_PUBLIC_URL is not set" in err

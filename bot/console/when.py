"""Times in console forms: what a `datetime-local` field sends, read in the service's time zone."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

INPUT_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows
TYPED = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})[ T]+(\d{1,2}):(\d{2})(?::\d{2})?$")


def parse_local(text: str, zone: ZoneInfo) -> datetime | None:
    """A local `YYYY-MM-DDTHH:MM` (or with a space) as an aware moment; None when it is not one."""
    found = TYPED.match(unicodedata.normalize("NFKC", text).strip())
    if found is None:
        return None
    try:
        year, month, day, hour, minute = (int(found.group(i)) for i in range(1, 6))
        local = datetime(year, month, day, hour, minute)
    except ValueError:
        return None
    return local.replace(tzinfo=zone)


def local_input(moment: datetime, zone: ZoneInfo) -> str:
    """A moment as a `datetime-local` field's value, in the service's time zone."""
    return moment.astimezone(zone).strftime(INPUT_FORMAT)

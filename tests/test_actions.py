"""The button codec (core/actions.py): every family and verb survives a round trip in the wire format
Linli has always sent, forged or malformed data decodes to nothing, ids beyond what the database holds
are refused before any query, and no press encodes to more than Telegram's 64 bytes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bot.clock import FixedClock
from core import actions
from core.actions import (
    FAMILIES,
    MAX_BYTES,
    Articles,
    Join,
    Language,
    Menu,
    MyTicket,
    NewPoll,
    Notices,
    Press,
    Queue,
    Rate,
    Report,
    Task,
    Verify,
    Vote,
)
from db.types import MAX_ID
from handlers.types import Button
from tests.conftest import make_app
from tests.support.chat import ChatUser

# A value of each kind of field, small and at the edge.
SAMPLES: dict[str, tuple[Any, ...]] = {
    "id": (1, 12, MAX_ID),
    "num": (0, 7, 999_999),
    "word": ("yes", "owner", "/report", "a.b_c-d", "x" * 40),
    "flag": (True, False),
}
TOO_BIG = (2**31, 99999999999, 10**12 - 1, 10**12)

# The wire format as buttons already in people's chats carry it.
WIRE: tuple[tuple[Press, str], ...] = (
    (Menu(command="/report"), "cmd:/report"),
    (Language(locale="zh_CN"), "l:zh_CN"),
    (Join("c"), "j:c"),
    (Join("p", node=3), "j:p:3"),
    (Join("e", node=30), "j:e:30"),
    (Join("h", home=101), "j:h:101"),
    (Join("k", home=5, kind="owner"), "j:k:5:owner"),
    (Verify("y", residency=7), "a:y:7"),
    (Verify("n", residency=7), "a:n:7"),
    (Report("ok"), "r:ok"),
    (Report("l", where="b"), "r:l:b"),
    (Report("c", category="noise"), "r:c:noise"),
    (MyTicket("x"), "t:x:0"),
    (MyTicket("w", ticket=4), "t:w:4"),
    (Rate("s", ticket=2), "f:s:2"),
    (Task("x"), "k:x:0"),
    (Task("a", ticket=12), "k:a:12"),
    (Task("c", ticket=3, closure="photo"), "k:c:3:photo"),
    (Queue("x"), "q:x"),
    (Queue("ty", ticket=4), "q:ty:4"),
    (Queue("w", ticket=4, worker=9), "q:w:4:9"),
    (Notices("x"), "n:x"),
    (Notices("bd"), "n:bd"),
    (Notices("k", kind="safety"), "n:k:safety"),
    (Notices("d", node=8), "n:d:8"),
    (Notices("b", building=11), "n:b:11"),
    (Notices("g", role="grid_workers"), "n:g:grid_workers"),
    (Notices("t", when="tonight"), "n:t:tonight"),
    (Notices("p", days=0), "n:p:0"),
    (Notices("y", yes=True), "n:y:1"),
    (Notices("y", yes=False), "n:y:0"),
    (Notices("a", notice=9), "n:a:9"),
    (Notices("m", kind="fees"), "n:m:fees"),
    (Articles("h"), "p:h"),
    (Articles("t", topic=2), "p:t:2"),
    (Articles("a", article="maintenance-fund"), "p:a:maintenance-fund"),
    (Vote("c", poll=3, choice="yes"), "v:c:3:yes"),
    (Vote("t", poll=3, candidate=1), "v:t:3:1"),
    (Vote("cancelok", poll=3), "v:cancelok:3"),
    (NewPoll("o", opening="std"), "w:o:std"),
    (NewPoll("s", yes=False), "w:s:0"),
    (NewPoll("b", building=6), "w:b:6"),
)


def _every_press() -> list[Press]:
    """Each family's every verb, with each sample of each of its fields."""
    presses: list[Press] = []
    for cls in FAMILIES.values():
        for verb, shape in cls.SHAPES.items():
            names = [name for name in shape if not name.startswith("=")]
            longest = max((len(SAMPLES[cls.KINDS[n]]) for n in names), default=1)
            for i in range(longest):
                values = {n: SAMPLES[cls.KINDS[n]][i % len(SAMPLES[cls.KINDS[n]])] for n in names}
                presses.append(cls(verb=verb, **values))
    return presses


@pytest.mark.parametrize(("press", "data"), WIRE, ids=[data for _, data in WIRE])
def test_the_wire_format_is_the_one_already_in_peoples_chats(press: Press, data: str) -> None:
    assert press.encode() == data
    assert actions.decode(data) == press
    assert actions.prefix_of(data) == press.FAMILY


def test_every_family_and_verb_survives_a_round_trip() -> None:
    presses = _every_press()
    verbs = {(type(p), p.verb) for p in presses}
    assert verbs == {(cls, verb) for cls in FAMILIES.values() for verb in cls.SHAPES}
    for press in presses:
        data = press.encode()
        assert len(data.encode()) <= MAX_BYTES, data
        assert actions.decode(data) == press, data
        assert Button.of(press, "label").data == data


@pytest.mark.parametrize(
    "data",
    [
        "",
        ":",
        "zz:top",
        "K:a:1",  # families and verbs are case-sensitive
        "k",
        "k:",
        "k:a",
        "k:a:",
        "k:A:1",
        "k:zz:1",
        "k:a:abc",
        "k:a:0",
        "k:a:-1",
        "k:a:+1",
        "k:a: 1",
        "k:a:1 ",
        "k:a:1.0",
        "k:a:1:2",  # one part too many
        "k:a:١٢",  # digits, but not ASCII ones
        "k:a:１２",
        "k:x",  # the literal part of an old button is missing …
        "k:x:1",  # … or not the one we sent
        "k:c:3",
        "k:c:3:",
        "j:k:5",
        "j:k:5:owner:x",
        "n:y:2",
        "n:y:yes",
        "n:p:1234567",  # a number of more than six digits
        "n:p:x",
        "n:x:1",
        "v:c:3:no way",
        "v:c:3:a;b",
        "r:c:" + "x" * 41,  # a word of more than 40 characters
        "l:",
        "l:en:x",
        "cmd:",
        "cmd:/report:x",
        "cmd:/" + "a" * 70,  # longer than 64 bytes
        "p:h:1",
        "p:t:x",
        "p:a:",
    ],
)
def test_malformed_or_forged_data_decodes_to_nothing(data: str) -> None:
    assert actions.decode(data) is None


@pytest.mark.parametrize("number", TOO_BIG)
@pytest.mark.parametrize("pattern", ["k:a:{}", "j:k:{}:owner", "n:v:{}", "a:y:{}", "q:w:1:{}", "v:c:{}:yes"])
def test_ids_beyond_the_databases_integer_decode_to_nothing(pattern: str, number: int) -> None:
    assert actions.decode(pattern.format(number)) is None
    assert actions.decode(pattern.format(MAX_ID)) is not None  # the largest id a row can have is fine


@pytest.mark.parametrize(
    "press",
    [
        Task("a"),  # an id it must carry is missing
        Task("a", ticket=0),
        Task("a", ticket=MAX_ID + 1),
        Task("zz", ticket=1),  # no such verb
        Vote("c", poll=1, choice="a:b"),  # a word that would add a part
        Vote("c", poll=1, choice="x" * 41),
        Notices("p", days=-1),
        Notices("p", days=1_000_000),
        Menu(command=""),
    ],
)
def test_a_press_that_does_not_fit_its_shape_cannot_be_encoded(press: Press) -> None:
    with pytest.raises(ValueError):
        press.encode()
    with pytest.raises(ValueError):
        Button.of(press, "label")


@dataclass(frozen=True, slots=True)
class _Wide(Press):
    """A family (never registered) whose fields together may outgrow a button."""

    FAMILY = "wide"
    SHAPES: ClassVar[dict[str, tuple[str, ...]]] = {"w": ("left", "right")}
    KINDS: ClassVar[dict[str, str]] = {"left": "word", "right": "word"}

    left: str | None = None
    right: str | None = None


def test_no_press_encodes_to_more_than_64_bytes() -> None:
    fits = _Wide("w", left="x" * 20, right="y" * 20)
    assert len(fits.encode()) <= MAX_BYTES
    with pytest.raises(ValueError, match="64 bytes"):
        _Wide("w", left="x" * 40, right="y" * 40).encode()
    assert "wide" not in FAMILIES


def test_huge_ids_get_a_clear_reply_and_no_database_error_on_postgresql(
    postgres_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The issue's reproduction: on PostgreSQL `k:v:2147483648` and `#99999999999` used to fail the turn
    with "integer out of range"; now the codec and the ticket code refuse them before any query."""
    app = make_app(postgres_url, tmp_path, FixedClock())
    try:
        worker = ChatUser(app.service, "grid-big", name="网格员")
        worker.say("/start DEMO-GRID")
        assert "绑定成功" in worker.text
        with caplog.at_level(logging.ERROR):
            worker.data("k:v:2147483648")  # forged: one past PostgreSQL's integer
            assert "失效" in worker.text and "出了点问题" not in worker.text
            worker.say("#99999999999")
            assert "没有找到工单" in worker.text and "出了点问题" not in worker.text
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    finally:
        app.engine.dispose()

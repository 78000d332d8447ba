"""Button data: every press is a typed action, encoded in at most 64 bytes and decoded with validation.

A button carries an action, never a permission: whoever presses it is checked again against the database
by the use case it leads to. The codec only guarantees shape: a known family and verb, the right number of
parts, ids within the database's integer range, numbers and words of bounded size. Anything else decodes
to None, which the chat answers as a stale button.

The wire format is the one Linli has always sent (`k:a:12`, `v:c:3:yes`, `cmd:/report`), so buttons
already in people's chats keep working. Each family is a small frozen dataclass: its `verb` and the
fields that verb carries, in order (`SHAPES`). Channels that cannot carry data (WeChat menus, numbered
replies) keep a short token per encoded action and decode it the same way.

Imports point one way: handlers/, the notify layer and channels import this module; it imports only the
bound on ids.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from db.types import parse_id

MAX_BYTES = 64  # Telegram's callback_data limit
_WORD = re.compile(r"^[A-Za-z0-9_./-]{1,40}$")
_NUMBER = re.compile(r"^[0-9]{1,6}$")
Shapes = dict[str, tuple[str, ...]]
Kinds = dict[str, str]


def _number(raw: str) -> int | None:
    """A small count or index (days, seats, a topic's number): up to six digits."""
    return int(raw) if _NUMBER.match(raw) else None


def _word(raw: str) -> str | None:
    """A key, a kind or a name (a category key, a role, `std`): letters, digits and `_./-`."""
    return raw if _WORD.match(raw) else None


def _flag(raw: str) -> bool | None:
    """Yes (`1`) or no (`0`)."""
    return {"1": True, "0": False}.get(raw)


# How each kind of field is read from and written to the wire.
_READ: dict[str, Callable[[str], Any]] = {"id": parse_id, "num": _number, "word": _word, "flag": _flag}
_WRITE: dict[str, Callable[[Any], str]] = {
    "id": str,
    "num": str,
    "word": str,
    "flag": lambda value: "1" if value else "0",
}


@dataclass(frozen=True, slots=True)
class Press:
    """A decoded button press; subclasses are the families (tickets, tasks, polls …)."""

    FAMILY: ClassVar[str] = ""
    VERBLESS: ClassVar[bool] = False  # `cmd:/report`, `l:en`: no verb part on the wire
    # verb → the fields it carries, in wire order; "=0" is a literal part kept for old buttons (`k:x:0`).
    SHAPES: ClassVar[Shapes] = {}
    KINDS: ClassVar[Kinds] = {}  # field → id | num | word | flag

    verb: str = ""

    def encode(self) -> str:
        """The button data for this press; raises ValueError when it does not fit its shape or 64 bytes."""
        shape = self.SHAPES.get(self.verb)
        if shape is None:
            raise ValueError(f"{type(self).__name__} has no verb {self.verb!r}")
        parts = [self.FAMILY] if self.VERBLESS else [self.FAMILY, self.verb]
        for name in shape:
            if name.startswith("="):
                parts.append(name[1:])
                continue
            value = getattr(self, name)
            text = _WRITE[self.KINDS[name]](value)
            if value is None or _READ[self.KINDS[name]](text) != value:
                raise ValueError(f"{type(self).__name__}.{name} cannot carry {value!r}")
            parts.append(text)
        data = ":".join(parts)
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"button data longer than {MAX_BYTES} bytes: {data!r}")
        return data

    @classmethod
    def _decode(cls, parts: list[str]) -> Press | None:
        verb = "" if cls.VERBLESS else (parts[1] if len(parts) > 1 else "")
        rest = parts[1:] if cls.VERBLESS else parts[2:]
        shape = cls.SHAPES.get(verb)
        if shape is None or len(rest) != len(shape):
            return None
        values: dict[str, Any] = {}
        for name, raw in zip(shape, rest, strict=True):
            if name.startswith("="):
                if raw != name[1:]:
                    return None
                continue
            value = _READ[cls.KINDS[name]](raw)
            if value is None:
                return None
            values[name] = value
        return cls(verb=verb, **values)

    def fields(self) -> dict[str, Any]:
        """The press's values by field name (for logs and tests)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


_FAMILIES: dict[str, type[Press]] = {}


def family(cls: type[Press]) -> type[Press]:
    """Register a family of presses under its wire prefix."""
    if cls.FAMILY in _FAMILIES:
        raise ValueError(f"two families share the prefix {cls.FAMILY!r}")
    _FAMILIES[cls.FAMILY] = cls
    return cls


def decode(data: str) -> Press | None:
    """The press a button's data stands for, or None when it is unknown, forged or malformed."""
    if not data or len(data.encode()) > MAX_BYTES:
        return None
    parts = data.split(":")
    cls = _FAMILIES.get(parts[0])
    return cls._decode(parts) if cls is not None else None


def prefix_of(data: str) -> str:
    """The family prefix of button data (`v` for a vote), decoded or not."""
    return data.split(":", 1)[0]


# --- the families --------------------------------------------------------------------------------------


@family
@dataclass(frozen=True, slots=True)
class Menu(Press):
    """A menu button standing in for a typed command: `cmd:/report`."""

    FAMILY = "cmd"
    VERBLESS = True
    SHAPES: ClassVar[Shapes] = {"": ("command",)}
    KINDS: ClassVar[Kinds] = {"command": "word"}

    command: str = ""


@family
@dataclass(frozen=True, slots=True)
class Language(Press):
    """Choose the language: `l:zh_CN`."""

    FAMILY = "l"
    VERBLESS = True
    SHAPES: ClassVar[Shapes] = {"": ("locale",)}
    KINDS: ClassVar[Kinds] = {"locale": "word"}

    locale: str = ""


@family
@dataclass(frozen=True, slots=True)
class Join(Press):
    """The home chooser: c(hoose), com(p)ound, (b)uilding, (e)ntrance, (h)ome, (k)ind of residence; then
    the applicant's (n)ame as the platform shows it, or e(x)it the registration; staff who joined without
    a name give one (m)."""

    FAMILY = "j"
    SHAPES: ClassVar[Shapes] = {
        "c": (),
        "p": ("node",),
        "b": ("node",),
        "e": ("node",),
        "h": ("home",),
        "k": ("home", "kind"),
        "n": (),
        "x": (),
        "m": (),
    }
    KINDS: ClassVar[Kinds] = {"node": "id", "home": "id", "kind": "word"}

    node: int | None = None
    home: int | None = None
    kind: str | None = None


@family
@dataclass(frozen=True, slots=True)
class Verify(Press):
    """Staff verify (y) or reject (n) a resident who joined without a code."""

    FAMILY = "a"
    SHAPES: ClassVar[Shapes] = {"y": ("residency",), "n": ("residency",)}
    KINDS: ClassVar[Kinds] = {"residency": "id"}

    residency: int | None = None


@family
@dataclass(frozen=True, slots=True)
class Report(Press):
    """The report flow: home, category, photos done, location, submit, edit, share, me-too, new, cancel;
    "not a report" (o) for words typed outside a flow that were offered as one, or (a)dd them to the
    report left mid-way."""

    FAMILY = "r"
    SHAPES: ClassVar[Shapes] = {
        "x": (),
        "h": ("home",),
        "c": ("category",),
        "p": (),
        "l": ("where",),  # b: my building, s: skip
        "ok": (),
        "e": ("part",),  # c | d | p | l: what to edit
        "s": (),
        "m": ("ticket",),
        "n": (),
        "o": (),
        "a": (),
    }
    KINDS: ClassVar[Kinds] = {
        "home": "id",
        "category": "word",
        "where": "word",
        "part": "word",
        "ticket": "id",
    }

    home: int | None = None
    category: str | None = None
    where: str | None = None
    part: str | None = None
    ticket: int | None = None


@family
@dataclass(frozen=True, slots=True)
class Drafts(Press):
    """A draft a person left: (r)esume the parked one, start the flow a(n)ew, or, asked before a typed
    draft is thrown away, discard it (x) or (k)eep filling it in. Each names its flow; the two that throw
    a draft away also carry a tag of the draft they were shown with, so a press left over from another
    draft does nothing to this one."""

    FAMILY = "d"
    SHAPES: ClassVar[Shapes] = {"r": ("flow",), "k": ("flow",), "n": ("flow", "tag"), "x": ("flow", "tag")}
    KINDS: ClassVar[Kinds] = {"flow": "word", "tag": "id"}

    flow: str | None = None
    tag: int | None = None


@family
@dataclass(frozen=True, slots=True)
class MyTicket(Press):
    """A resident's ticket: (v)iew, add a (n)ote, (w)ithdraw or leave, withdraw for sure (y), cancel (x)."""

    FAMILY = "t"
    SHAPES: ClassVar[Shapes] = {
        "v": ("ticket",),
        "n": ("ticket",),
        "w": ("ticket",),
        "y": ("ticket",),
        "x": ("=0",),
    }
    KINDS: ClassVar[Kinds] = {"ticket": "id"}

    ticket: int | None = None


@family
@dataclass(frozen=True, slots=True)
class Rate(Press):
    """Rate a resolved ticket: (s)atisfied, (b)asically, (d)issatisfied; s(k)ip the comment."""

    FAMILY = "f"
    SHAPES: ClassVar[Shapes] = {"s": ("ticket",), "b": ("ticket",), "d": ("ticket",), "k": ("ticket",)}
    KINDS: ClassVar[Kinds] = {"ticket": "id"}

    ticket: int | None = None


@family
@dataclass(frozen=True, slots=True)
class Task(Press):
    """A grid worker's task: (v)iew, (a)ccept, (p)rogress, ask (q), (t)ransfer, (r)esolve, closure kind (c),
    (d)one, cancel (x); and their duty: go of(f) duty, back o(n)."""

    FAMILY = "k"
    SHAPES: ClassVar[Shapes] = {
        **{verb: ("ticket",) for verb in ("v", "a", "p", "q", "t", "r", "d")},
        "c": ("ticket", "closure"),
        "x": ("=0",),
        "f": (),
        "n": (),
    }
    KINDS: ClassVar[Kinds] = {"ticket": "id", "closure": "word"}

    ticket: int | None = None
    closure: str | None = None


@family
@dataclass(frozen=True, slots=True)
class Queue(Press):
    """Staff's queue: (a)ssign, assign to a (w)orker, approve (ty) or reject (tn) a transfer, mark a
    (d)uplicate, cancel (x)."""

    FAMILY = "q"
    SHAPES: ClassVar[Shapes] = {
        "x": (),
        "a": ("ticket",),
        "d": ("ticket",),
        "ty": ("ticket",),
        "tn": ("ticket",),
        "w": ("ticket", "worker"),
    }
    KINDS: ClassVar[Kinds] = {"ticket": "id", "worker": "id"}

    ticket: int | None = None
    worker: int | None = None


@family
@dataclass(frozen=True, slots=True)
class Notices(Press):
    """Notices: the /notice flow's steps, and a notice's view, acknowledge, cancel, remind; mute a kind."""

    FAMILY = "n"
    SHAPES: ClassVar[Shapes] = {
        **{verb: () for verb in ("x", "o", "u", "bd", "gd", "ok")},
        "k": ("kind",),
        "d": ("node",),
        "b": ("building",),
        "g": ("role",),
        "t": ("when",),  # now | tonight | tomorrow
        "p": ("days",),
        "y": ("yes",),
        **{verb: ("notice",) for verb in ("v", "a", "c", "r")},
        "m": ("kind",),
    }
    KINDS: ClassVar[Kinds] = {
        "kind": "word",
        "node": "id",
        "building": "id",
        "role": "word",
        "when": "word",
        "days": "num",
        "yes": "flag",
        "notice": "id",
    }

    kind: str | None = None
    node: int | None = None
    building: int | None = None
    role: str | None = None
    when: str | None = None
    days: int | None = None
    yes: bool | None = None
    notice: int | None = None


@family
@dataclass(frozen=True, slots=True)
class Articles(Press):
    """The policy library: (h)ome of topics, a (t)opic, an (a)rticle, (s)earch, cancel (x)."""

    FAMILY = "p"
    SHAPES: ClassVar[Shapes] = {"h": (), "s": (), "x": (), "t": ("topic",), "a": ("article",)}
    KINDS: ClassVar[Kinds] = {"topic": "num", "article": "word"}

    topic: int | None = None
    article: str | None = None


@family
@dataclass(frozen=True, slots=True)
class Vote(Press):
    """Polls: (v)iew, (c)hoose, (t)oggle a candidate, (d)one, confirm (ok), d(r)op … see `SHAPES`."""

    FAMILY = "v"
    SHAPES: ClassVar[Shapes] = {
        # v: view, d: done picking, ok: cast, r: check a receipt, x: drop the draft,
        # cancel / cancelok: the author withdraws the poll (asked, then sure)
        **{verb: ("poll",) for verb in ("v", "d", "ok", "r", "x", "cancel", "cancelok")},
        "c": ("poll", "choice"),
        "t": ("poll", "candidate"),
        "h": ("poll", "home"),  # vote for this home (one's own, or one held by proxy)
    }
    KINDS: ClassVar[Kinds] = {"poll": "id", "choice": "word", "candidate": "num", "home": "id"}

    poll: int | None = None
    choice: str | None = None
    candidate: int | None = None
    home: int | None = None


@family
@dataclass(frozen=True, slots=True)
class Paper(Press):
    """Entering a paper ballot: (s)tart with a poll, a (b)uilding, an (e)ntrance (also 录入下一张), a
    (h)ome; a decision's (c)hoice, (t)oggle a candidate, (d)one; how it was collected (m), the remembered
    collector (n), when (w: now | typed), s(k)ip the photo, confirm (ok), cancel (x)."""

    FAMILY = "pp"
    SHAPES: ClassVar[Shapes] = {
        **{verb: () for verb in ("d", "n", "k", "ok", "x")},
        "s": ("poll",),
        "b": ("poll", "node"),
        "e": ("poll", "node"),
        "h": ("poll", "home"),
        "c": ("choice",),
        "t": ("candidate",),
        "m": ("method",),
        "w": ("when",),
    }
    KINDS: ClassVar[Kinds] = {
        "poll": "id",
        "node": "id",
        "home": "id",
        "choice": "word",
        "candidate": "num",
        "method": "word",
        "when": "word",
    }

    poll: int | None = None
    node: int | None = None
    home: int | None = None
    choice: str | None = None
    candidate: int | None = None
    method: str | None = None
    when: str | None = None


@family
@dataclass(frozen=True, slots=True)
class NewPoll(Press):
    """The /newpoll flow: (c)ompound, (b)uilding, buildings done (bd), (m)atter, (k)ind, seats (n),
    (o)pening, (d)uration, (s)ecret, chan(g)eable, consultativ(e), create (ok), cancel (x)."""

    FAMILY = "w"
    SHAPES: ClassVar[Shapes] = {
        "x": (),
        "bd": (),
        "ok": (),
        "c": ("compound",),
        "b": ("building",),
        "m": ("matter",),
        "k": ("kind",),
        "n": ("seats",),
        "o": ("opening",),  # std | short | a number of days
        "d": ("days",),
        "s": ("yes",),
        "g": ("yes",),
        "e": ("yes",),
    }
    KINDS: ClassVar[Kinds] = {
        "compound": "id",
        "building": "id",
        "matter": "num",
        "kind": "word",
        "seats": "num",
        "opening": "word",
        "days": "num",
        "yes": "flag",
    }

    compound: int | None = None
    building: int | None = None
    matter: int | None = None
    kind: str | None = None
    seats: int | None = None
    opening: str | None = None
    days: int | None = None
    yes: bool | None = None


# --- 收支公示 (DESIGN §4.4): the families of /accounts ------------------------------------------------


@family
@dataclass(frozen=True, slots=True)
class Accounts(Press):
    """/accounts: the (l)ist, (o)pen a statement, (m)ore of its lines from a place, its (h)istory of
    versions, ask about a line: which one (qs), this one (q); leave (x). Filers: a (n)ew statement, its
    (c)ompound, (p)eriod, a line's category (k), skip the note (sn) or voucher (sv), (a)dd another line,
    (u)ndo the last one, lines (d)one, publish (ok), (r)ecord a correction of a published one, (e)dit a line's
    amount in it."""

    FAMILY = "ac"
    SHAPES: ClassVar[Shapes] = {
        **{verb: () for verb in ("l", "x", "n", "sn", "sv", "a", "u", "d", "ok")},
        **{verb: ("statement",) for verb in ("o", "h", "qs", "r")},
        "m": ("statement", "start"),
        "e": ("statement", "start"),
        "q": ("line",),
        "c": ("compound", "filer"),
        "p": ("period",),
        "k": ("category",),
    }
    KINDS: ClassVar[Kinds] = {
        "filer": "word",
        "statement": "id",
        "start": "num",
        "line": "id",
        "compound": "id",
        "period": "word",
        "category": "word",
    }

    statement: int | None = None
    start: int | None = None
    line: int | None = None
    compound: int | None = None
    filer: str | None = None
    period: str | None = None
    category: str | None = None


# --- 物业评价 (DESIGN §4.5): the families of /rating and the satisfaction survey ----------------------


@family
@dataclass(frozen=True, slots=True)
class Rating(Press):
    """/rating: the ranking (h), a company's breakdown (c) and records (r), a record (v); a new record:
    start (n), company (nc), compound (np), good or bad (nk), points (nn), no photo (ns), enter (ok);
    appeal a record (a), decide an appeal (d) upholding it or not (du); the 红黑榜: preview (b), publish
    (bok); cancel (x)."""

    FAMILY = "rt"
    SHAPES: ClassVar[Shapes] = {
        **{verb: () for verb in ("h", "n", "ns", "ok", "b", "bok", "x")},
        **{verb: ("company",) for verb in ("c", "r", "nc")},
        **{verb: ("record",) for verb in ("v", "a", "d")},
        "np": ("compound",),
        "nk": ("good",),
        "nn": ("points",),
        "du": ("record", "good"),
    }
    KINDS: ClassVar[Kinds] = {
        "company": "id",
        "record": "id",
        "compound": "id",
        "good": "flag",
        "points": "num",
    }

    company: int | None = None
    record: int | None = None
    compound: int | None = None
    good: bool | None = None  # a good record; for a decision: the appeal is upheld
    points: int | None = None


@family
@dataclass(frozen=True, slots=True)
class Survey(Press):
    """The owners' satisfaction survey for one home: (o)pen it, (a)nswer one aspect (1..6) with a score
    (1..5) in one tap, stop for now (x)."""

    FAMILY = "sv"
    SHAPES: ClassVar[Shapes] = {
        "o": ("survey", "home"),
        "a": ("survey", "home", "aspect", "score"),
        "x": ("survey", "home"),
    }
    KINDS: ClassVar[Kinds] = {"survey": "id", "home": "id", "aspect": "num", "score": "num"}

    survey: int | None = None
    home: int | None = None  # the survey is answered once per home: the push names the home
    aspect: int | None = None
    score: int | None = None


# --- 业委会 (DESIGN §4.6): the families of /committee -------------------------------------------------


@family
@dataclass(frozen=True, slots=True)
class Committees(Press):
    """/committee: (v)iew a compound's committee; set one (s) or set up a 物管会 (g); the first day is
    today (sd), the term in years (ty), filed today or not yet (fd); owners of a (b)uilding, staff over the
    compound (f), (p)ick a person, give them a p(o)st, (r)emove them; done (d), confirm (ok), cancel (x);
    a handover done (h)."""

    FAMILY = "cm"
    SHAPES: ClassVar[Shapes] = {
        "v": ("compound",),
        "s": ("compound",),
        "g": ("compound",),
        "sd": (),
        "ty": ("years",),
        "fd": ("yes",),
        "b": ("building",),
        "f": (),
        "p": ("person",),
        "o": ("person", "post"),
        "r": ("person",),
        "d": (),
        "ok": (),
        "x": (),
        "h": ("handover",),
    }
    KINDS: ClassVar[Kinds] = {
        "compound": "id",
        "years": "num",
        "yes": "flag",
        "building": "id",
        "person": "id",
        "post": "word",
        "handover": "id",
    }

    compound: int | None = None
    years: int | None = None
    yes: bool | None = None
    building: int | None = None
    person: int | None = None
    post: str | None = None
    handover: int | None = None


# --- 热点 (DESIGN §4.7): the families of hot spots -----------------------------------------------------


@family
@dataclass(frozen=True, slots=True)
class HotSpotPress(Press):
    """Hot spots: (t)ell the building — asks first — and (ok) tell it, (x) not now; each names the cluster."""

    FAMILY = "hs"
    SHAPES: ClassVar[Shapes] = {verb: ("spot",) for verb in ("t", "ok", "x")}
    KINDS: ClassVar[Kinds] = {"spot": "id"}

    spot: int | None = None


# --- 委托 (DESIGN §4.8): proxies for owners' polls ----------------------------------------------------


@family
@dataclass(frozen=True, slots=True)
class Proxies(Press):
    """/proxy: the (l)ist of one's proxies; an owner (o)ffers one — from a poll's page (op) —, picks the
    (h)ome, this (pp)oll or a (t)erm until the committee's end (tc) or for a year (ty), then confirms (ok)
    or cancels (x); (rv) asks before revoking, (rk) revokes; (c) claim by typing a code. Staff enter a
    letter: (s) the polls, (sp) a poll, (sb) building, (se) entrance, (sh) home; (sl) the compound's
    proxies; (f) holders flagged over the limit."""

    FAMILY = "px"
    SHAPES: ClassVar[Shapes] = {
        "l": (),
        "o": (),
        "op": ("poll",),
        "h": ("home",),
        "pp": ("poll",),
        "t": (),
        "tc": (),
        "ty": (),
        "ok": (),
        "x": (),
        "rv": ("proxy",),
        "rk": ("proxy",),
        "c": (),
        "s": (),
        "sp": ("poll",),
        "sb": ("building",),
        "se": ("entrance",),
        "sh": ("home",),
        "sl": ("compound",),
        "f": ("compound",),
    }
    KINDS: ClassVar[Kinds] = {
        "poll": "id",
        "home": "id",
        "proxy": "id",
        "building": "id",
        "entrance": "id",
        "compound": "id",
    }

    poll: int | None = None
    home: int | None = None
    proxy: int | None = None
    building: int | None = None
    entrance: int | None = None
    compound: int | None = None


FAMILIES: dict[str, type[Press]] = _FAMILIES  # read-only by convention: the registry, for tests and docs

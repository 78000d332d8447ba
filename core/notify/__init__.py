"""Events become messages here, and only here: who is told, in which template, with which buttons.

Each module of this package registers, per event type, a function that turns the event into `Message`s
for people (`@tells(SomeEvent)`). `publish` runs them for the events a unit of work recorded and writes
the messages to the outbox in that same transaction; the outbox then tells the committer that pushes
wait. Big audiences (a notice to a whole street) are written by their function in one statement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from core.actions import Press
from core.events import Event
from core.work import Work
from db import outbox


@dataclass(frozen=True, slots=True)
class Choice:
    """A button on a pushed message: the press it makes and its label (a key of buttons.j2)."""

    press: Press
    label: str = ""
    text: str = ""  # literal text (a name from data) when no label key fits
    args: dict[str, Any] = field(default_factory=dict)

    def stored(self) -> dict[str, Any]:
        """The button as an outbox row keeps it."""
        row: dict[str, Any] = {"data": self.press.encode(), "label": self.label}
        if self.text:
            row["text"] = self.text
        if self.args:
            row["args"] = self.args
        return row


@dataclass(frozen=True, slots=True)
class Message:
    """A push to one person: a template with its context, buttons, and when it may go."""

    person_id: int
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    buttons: tuple[tuple[Choice, ...], ...] = ()
    urgent: bool = False
    not_before: datetime | None = None
    ticket_id: int | None = None
    notice_id: int | None = None


E = TypeVar("E", bound=Event)
Teller = Callable[[Work, Any], Iterable[Message]]
_TELLERS: dict[type[Event], list[Teller]] = {}


def tells(
    kind: type[E],
) -> Callable[[Callable[[Work, E], Iterable[Message]]], Callable[[Work, E], Iterable[Message]]]:
    """Register a function that says who hears of an event of `kind`, and what."""

    def register(function: Callable[[Work, E], Iterable[Message]]) -> Callable[[Work, E], Iterable[Message]]:
        _TELLERS.setdefault(kind, []).append(function)
        return function

    return register


def messages_for(work: Work, event: Event) -> list[Message]:
    """What the registered functions say an event causes (nothing when none is registered)."""
    return [m for teller in _TELLERS.get(type(event), []) for m in teller(work, event)]


def publish(work: Work) -> int:
    """Turn the recorded events into outbox rows in the work's transaction; returns how many were queued.

    Events recorded while publishing (none today) are published too, in order."""
    queued = 0
    while work.events:
        event = work.events.pop(0)
        for message in messages_for(work, event):
            outbox.enqueue(
                work.session,
                message.person_id,
                message.template,
                message.context,
                [[choice.stored() for choice in row] for row in message.buttons],
                work.now,
                not_before=message.not_before,
                urgent=message.urgent,
                ticket_id=message.ticket_id,
                notice_id=message.notice_id,
            )
            queued += 1
    return queued


# The modules that register tellers, one per aggregate; importing them is what registers them.
from core.notify import (  # noqa: E402, F401
    committee,
    digest,
    evaluation,
    hotspots,
    ledger,
    notices,
    people,
    polls,
    proxies,
    tickets,
)

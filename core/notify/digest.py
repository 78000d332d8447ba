"""What the morning digests say, and to whom: one message each, sent when the job runs."""

from __future__ import annotations

from core.actions import Menu
from core.events import JurisdictionDigest, TasksDigest
from core.notify import Choice, Message, tells
from core.work import Work

TASKS, JURISDICTION = "digest.grid", "digest.staff"
TEMPLATES = (TASKS, JURISDICTION)  # how the job finds who was told today


@tells(TasksDigest)
def _tasks(work: Work, event: TasksDigest) -> list[Message]:
    first = None
    if event.first_ticket is not None and event.first_due is not None:
        first = {
            "code": event.first_ticket,
            "category": event.first_category,
            "stage": event.first_stage,
            "due": event.first_due.isoformat(),
        }
    context = {"open": event.open, "due_today": event.due_today, "overdue": event.overdue, "first": first}
    return [Message(event.person_id, TASKS, context)]


@tells(JurisdictionDigest)
def _jurisdiction(work: Work, event: JurisdictionDigest) -> list[Message]:
    context = {
        "overdue": event.overdue,
        "unrated": event.unrated,
        "unassigned": event.unassigned,
        "scope": list(event.places),
    }
    return [
        Message(
            event.person_id,
            JURISDICTION,
            context,
            ((Choice(Menu(command="/queue"), "queue.btn_open"), Choice(Menu(command="/stats"), "stats")),),
        )
    ]

"""What statement-of-accounts events tell whom (registered with `tells`): the filer and then the
community staff hear of a statement still missing 30 days after its period ended."""

from __future__ import annotations

from collections.abc import Iterable

from core.events import StatementLate
from core.notify import Message, tells
from core.work import Work
from db import companies, notices
from db.ledger.periods import Period
from db.models import OrgNode

TEMPLATES = {"filer": "ledger.late_filer", "community": "ledger.late_community"}


@tells(StatementLate)
def late(work: Work, event: StatementLate) -> Iterable[Message]:
    """Each filer (or community staff member) is told which compound's statement for which period is
    missing, after quiet hours."""
    if not event.recipients:
        return ()
    compound = work.session.get(OrgNode, event.compound_id)
    period = Period.from_iso(event.period_start, event.period_end)
    company = None
    if event.filer == "company":
        company = companies.serving(work.session, event.compound_id, period.end)
    context = {
        "compound": compound.name if compound is not None else "",
        "period": period.label(),
        "period_start": event.period_start,
        "period_end": event.period_end,
        "filer": event.filer,
        "company": company.name if company is not None else "",
    }
    not_before = notices.release_time(False, work.now, work.now, work.policy)
    template = TEMPLATES[event.stage]
    return [Message(p, template, context, not_before=not_before) for p in event.recipients]

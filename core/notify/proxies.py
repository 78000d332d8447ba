"""What proxy events tell whom (registered with `tells`).

A person who comes to hold proxies for more homes of a compound than the policy's limit is flagged to
those who may run polls there (community, street, department and admin staff over the compound, and its
owners' committee): a vote gathered by one hand is worth a look before the count.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.actions import Proxies
from core.events import ProxyFlagged
from core.notify import Choice, Message, tells
from core.permissions import Action, Role, roles_for
from core.work import Work
from db.models import OrgNode, Person, PollProxy
from db.polls.proxies import staff_over

FLAGGED = "proxies.flagged"


@tells(ProxyFlagged)
def flagged(work: Work, event: ProxyFlagged) -> Iterable[Message]:
    """Those who run polls in the compound hear who now holds proxies for how many homes."""
    proxy = work.session.get(PollProxy, event.proxy_id)
    compound = work.session.get(OrgNode, proxy.compound_id) if proxy is not None else None
    holder = work.session.get(Person, event.person_id)
    if proxy is None or compound is None:
        return ()
    staff = staff_over(work.session, compound, roles_for(Action.RUN_POLL), Role.OWNERS_COMMITTEE.value)
    context = {
        "name": holder.name if holder else "",
        "homes": event.homes,
        "limit": work.policy.proxy_flag_homes,
        "compound": compound.name,
    }
    buttons = ((Choice(Proxies("f", compound=compound.id), "proxies.btn_flagged"),),)
    goes = work.policy.quiet_until(work.now)
    return [
        Message(person_id, FLAGGED, context, buttons, not_before=None if goes == work.now else goes)
        for person_id in staff
        if person_id != event.person_id
    ]

"""Proxies' rules (DESIGN §4.8) through their use cases: who may name a proxy and how, claiming a code once
and in time, revoking, the homes a proxy may vote for (one poll, or a term covering the compound's local
day), flagging a holder over the configured limit to those who run polls, and the limit's setting."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from bot.bootstrap import App
from bot.clock import FixedClock
from core import notify
from core import proxies as use
from core.events import ProxyFlagged
from core.permissions import Role
from core.proxies import PollError
from core.work import Work
from db import org, people
from db.models import AuditEntry, Home, OrgNode, Outbox, Poll, PollProxy, Residency, RoleGrant
from db.polls import proxies as rules
from db.sla import Policy, load_policy
from tests.test_polls_flow import make_poll

ROOT = Path(__file__).resolve().parent.parent
COMPOUND = "铁西区/北沟街道/英雄社区/阳光花园"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class Place:
    """阳光花园 with owners of a few homes, a tenant, staff who enter ballots and a stranger."""

    app: App
    clock: FixedClock
    compound_id: int = 0
    homes: dict[str, int] = field(default_factory=dict)  # "1栋/1单元/101" -> home id
    person: dict[str, int] = field(default_factory=dict)
    policy: Policy | None = None

    def run(self, call: object, *args: object, **kwargs: object) -> tuple[object, list[object]]:
        """Run a use case as `person` (its first argument, a name) in one unit of work; returns what it
        returned and the events it recorded (published to the outbox and committed)."""
        name, *rest = args
        with self.app.sessions() as session:
            work = Work(session, self.clock.now(), self.policy or self.app.policy)
            actor = people.actor(session, self.person[str(name)])
            result = call(work, actor, *rest, **kwargs)  # type: ignore[operator]
            events = list(work.events)
            notify.publish(work)
            session.commit()
            if isinstance(result, PollProxy):
                session.refresh(result)
                session.expunge(result)
            return result, events

    def offer(self, name: str, home: str, proxy: str = "赵六", **kw: object) -> use.Offer:
        made, _ = self.run(use.offer, name, self.homes[home], proxy, **kw)
        assert isinstance(made, use.Offer)
        return made

    def claim(self, name: str, code: str) -> tuple[PollProxy, list[object]]:
        found, events = self.run(use.claim, name, code)
        assert isinstance(found, PollProxy)
        return found, events

    def refused(self, call: object, *args: object, **kw: object) -> str:
        with pytest.raises(PollError) as error:
            self.run(call, *args, **kw)
        return error.value.reason

    def homes_for(self, poll_id: int, name: str, now: datetime, zone: ZoneInfo | None = None) -> list[int]:
        with self.app.sessions() as session:
            poll = session.get(Poll, poll_id)
            assert poll is not None
            return rules.homes_for(session, poll, self.person[name], now, zone)


def _add_person(session: Session, place: Place, name: str, now: datetime) -> int:
    who = people.find_or_create_person(session, "web", f"px-{name}", "", name, "zh_CN", now)
    place.person[name] = who.person_id
    return who.person_id


@pytest.fixture
def place(any_app: App, clock: FixedClock) -> Iterator[Place]:
    app = any_app
    now = clock.now()
    found = Place(app, clock)
    with app.sessions() as session:
        compound = org.find_node(session, COMPOUND)
        assert compound is not None and compound.id is not None
        found.compound_id = compound.id
        for home in session.exec(select(Home).where(Home.compound_id == compound.id)).all():
            building = session.get(OrgNode, home.building_id)
            entrance = session.get(OrgNode, home.entrance_id)
            assert building is not None and entrance is not None and home.id is not None
            found.homes[f"{building.name}/{entrance.name}/{home.number}"] = home.id
        owners = {"甲": "1栋/1单元/201", "乙": "1栋/1单元/202", "丙": "1栋/1单元/301", "丁": "1栋/1单元/302"}
        for name, home in owners.items():
            person_id = _add_person(session, found, name, now)
            session.add(
                Residency(
                    person_id=person_id,
                    home_id=found.homes[home],
                    kind="owner",
                    status="verified",
                    created_at=now,
                    decided_at=now,
                )
            )
        tenant = _add_person(session, found, "租", now)
        session.add(
            Residency(
                person_id=tenant,
                home_id=found.homes["1栋/1单元/201"],
                kind="tenant",
                status="verified",
                created_at=now,
                decided_at=now,
            )
        )
        pending = _add_person(session, found, "待", now)
        session.add(
            Residency(
                person_id=pending,
                home_id=found.homes["1栋/1单元/202"],
                kind="owner",
                status="pending",
                created_at=now,
            )
        )
        for name, role, node in (
            ("社区", Role.COMMUNITY_STAFF, compound.parent_id),
            ("区", Role.DEPARTMENT_STAFF, None),
        ):
            person_id = _add_person(session, found, name, now)
            node_id = node if node is not None else int(compound.path.strip("/").split("/")[0])
            session.add(RoleGrant(person_id=person_id, role=role.value, node_id=node_id))
        _add_person(session, found, "赵六", now)
        _add_person(session, found, "钱七", now)
        session.commit()
    yield found


# --- offering ------------------------------------------------------------------------------------------


def test_a_verified_owner_names_a_proxy_for_an_open_poll_and_only_the_code_hash_is_kept(place: Place) -> None:
    poll_id = make_poll(place.app, place.clock)
    made = place.offer("甲", "1栋/1单元/201", poll_id=poll_id)
    assert rules.normalise_code(made.code) == made.code and len(made.code) == 9
    assert made.expires_at == place.clock.now() + timedelta(days=7)
    with place.app.sessions() as session:
        row = session.get(PollProxy, made.proxy.id)
        assert row is not None
        assert row.source == "owner" and row.poll_id == poll_id and row.proxy_id is None
        assert row.code_hash == rules.code_hash(made.code) and made.code not in row.code_hash


@pytest.mark.parametrize(
    ("name", "reason"), [("乙", "not_allowed"), ("租", "not_owner"), ("待", "not_owner")]
)
def test_only_an_owner_of_the_home_may_name_a_proxy(place: Place, name: str, reason: str) -> None:
    """Another home's owner, a tenant of the home and an owner not yet verified are refused."""
    poll_id = make_poll(place.app, place.clock)
    home = "1栋/1单元/202" if name == "待" else "1栋/1单元/201"
    assert place.refused(use.offer, name, place.homes[home], "赵六", poll_id=poll_id) == reason


def test_an_offer_is_for_a_running_poll_over_the_home_or_a_term_of_at_most_three_years(place: Place) -> None:
    poll_id = make_poll(place.app, place.clock, buildings=("2栋",))
    home = place.homes["1栋/1单元/201"]
    assert place.refused(use.offer, "甲", home, "赵六", poll_id=poll_id) == "poll"  # 1栋 is outside
    today = place.clock.now().date()
    assert place.refused(use.offer, "甲", home, "赵六") == "term"  # neither a poll nor a term
    far = (today, today.replace(year=today.year + 3))
    assert place.refused(use.offer, "甲", home, "赵六", term=far) == "term"
    backwards = (today, today - timedelta(days=1))
    assert place.refused(use.offer, "甲", home, "赵六", term=backwards) == "term"
    assert place.refused(use.offer, "甲", home, "  ", term=(today, today)) == "name"
    made = place.offer("甲", "1栋/1单元/201", term=(today, today + timedelta(days=365 * 3 - 2)))
    assert made.proxy.poll_id is None


def test_staff_enter_a_letter_only_with_its_photo_and_it_is_audited(place: Place) -> None:
    poll_id = make_poll(place.app, place.clock)
    home = place.homes["1栋/2单元/101"]  # nobody registered owns it: the owner signed on paper
    assert place.refused(use.offer, "社区", home, "钱七", poll_id=poll_id) == "photo"
    made = place.offer("社区", "1栋/2单元/101", "钱七", poll_id=poll_id, photo=("web", "letter.jpg"))
    assert made.proxy.source == "letter"
    # department staff run polls but do not enter ballots
    assert (
        place.refused(use.offer, "区", home, "钱七", poll_id=poll_id, photo=("web", "x.jpg")) == "not_allowed"
    )
    with place.app.sessions() as session:
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "poll.proxy_letter")).one()
        assert entry.subject == "proxy" and entry.subject_id == made.proxy.id
        assert entry.after is not None and entry.after["photo"] is True


# --- claiming -----------------------------------------------------------------------------------------------


def test_a_code_is_claimed_once_and_never_by_the_owner_who_made_it(place: Place) -> None:
    poll_id = make_poll(place.app, place.clock)
    made = place.offer("甲", "1栋/1单元/201", poll_id=poll_id)
    assert place.refused(use.claim, "甲", made.code) == "self"
    assert place.refused(use.claim, "赵六", "ABCD-EFG") == "not_found"  # malformed
    assert place.refused(use.claim, "赵六", "ABCD-EFGH") == "not_found"  # unknown
    row, _ = place.claim("赵六", made.code.replace("-", " ").lower())
    assert row.proxy_id == place.person["赵六"] and row.claimed_at == place.clock.now()
    assert place.refused(use.claim, "钱七", made.code) == "claimed"
    assert place.homes_for(poll_id, "赵六", place.clock.now()) == [place.homes["1栋/1单元/201"]]
    assert place.homes_for(poll_id, "钱七", place.clock.now()) == []


def test_a_code_expires_after_a_week(place: Place) -> None:
    poll_id = make_poll(place.app, place.clock)
    made = place.offer("甲", "1栋/1单元/201", poll_id=poll_id)
    place.clock.advance(days=7)
    assert place.refused(use.claim, "赵六", made.code) == "expired"


def test_a_revoked_proxy_gives_no_home_and_its_code_no_longer_works(place: Place) -> None:
    poll_id = make_poll(place.app, place.clock)
    made = place.offer("甲", "1栋/1单元/201", poll_id=poll_id)
    place.claim("赵六", made.code)
    assert place.refused(use.revoke, "乙", made.proxy.id) == "not_allowed"  # another home's owner
    revoked, _ = place.run(use.revoke, "甲", made.proxy.id)
    assert isinstance(revoked, PollProxy) and revoked.revoked_by == place.person["甲"]
    assert place.homes_for(poll_id, "赵六", place.clock.now()) == []
    assert place.refused(use.revoke, "甲", made.proxy.id) == "revoked"
    other = place.offer("甲", "1栋/1单元/201", poll_id=poll_id)
    place.run(use.revoke, "社区", other.proxy.id)  # staff may revoke too, before it is claimed
    assert place.refused(use.claim, "赵六", other.code) == "revoked"
    with place.app.sessions() as session:
        audited = session.exec(select(AuditEntry.action).where(AuditEntry.subject == "proxy")).all()
    assert audited == ["poll.proxy_revoke"]  # the owner's own revocation is not a staff action


def test_a_term_counts_on_the_days_it_covers_in_the_compounds_time_zone(place: Place) -> None:
    poll_id = make_poll(place.app, place.clock)
    today = place.clock.now().astimezone(SHANGHAI).date()
    last = today + timedelta(days=3)
    made = place.offer("甲", "1栋/1单元/201", term=(today, last))
    place.claim("赵六", made.code)
    home = place.homes["1栋/1单元/201"]
    on_last_day = datetime(last.year, last.month, last.day, 12, tzinfo=SHANGHAI)
    assert place.homes_for(poll_id, "赵六", on_last_day, SHANGHAI) == [home]
    # 16:30 UTC on the last day is already the next morning in Shanghai: the term is over there
    late = datetime(last.year, last.month, last.day, 16, 30, tzinfo=ZoneInfo("UTC"))
    assert place.homes_for(poll_id, "赵六", late, SHANGHAI) == []
    assert place.homes_for(poll_id, "赵六", late) == [home]  # no zone given: the UTC day
    # a proxy for one poll does not reach another
    other = make_poll(place.app, place.clock, title="更换电梯")
    single = place.offer("乙", "1栋/1单元/202", poll_id=other)
    place.claim("赵六", single.code)
    assert place.homes_for(poll_id, "赵六", place.clock.now(), SHANGHAI) == [home]
    assert sorted(place.homes_for(other, "赵六", place.clock.now(), SHANGHAI)) == sorted(
        [home, place.homes["1栋/1单元/202"]]
    )


def test_lists_show_what_a_person_granted_and_holds(place: Place) -> None:
    poll_id = make_poll(place.app, place.clock)
    made = place.offer("甲", "1栋/1单元/201", poll_id=poll_id)
    place.claim("赵六", made.code)
    (granted, held), _ = place.run(use.of_person, "甲")  # type: ignore[misc]
    assert [(v.home_label, v.proxy_name, v.state) for v in granted] == [
        ("阳光花园 1栋 1单元 201", "赵六", "active")
    ]
    assert held == []
    (granted, held), _ = place.run(use.of_person, "赵六")  # type: ignore[misc]
    assert granted == [] and [(v.poll_title, v.granted_by_name) for v in held] == [("续聘阳光物业", "甲")]


# --- flagging --------------------------------------------------------------------------------------------


def test_a_claim_over_the_limit_is_flagged_once_to_those_who_run_polls(place: Place) -> None:
    place.policy = replace(place.app.policy, proxy_flag_homes=2)
    poll_id = make_poll(place.app, place.clock)
    codes = [
        place.offer(name, home, poll_id=poll_id).code
        for name, home in (
            ("甲", "1栋/1单元/201"),
            ("乙", "1栋/1单元/202"),
            ("丙", "1栋/1单元/301"),
            ("丁", "1栋/1单元/302"),
        )
    ]
    events = [place.claim("赵六", code)[1] for code in codes]
    assert events[0] == [] and events[1] == []  # two homes: at the limit, not over it
    assert events[2] == [ProxyFlagged(events[2][0].proxy_id, place.person["赵六"], 3)]  # type: ignore[union-attr]
    assert events[3] == []  # still over: not told again
    with place.app.sessions() as session:
        told = session.exec(select(Outbox).where(Outbox.template == "proxies.flagged")).all()
        staff = [place.person["社区"], place.person["区"]]
        assert sorted(m.person_id for m in told) == sorted(staff)
        assert all(m.context["homes"] == 3 and m.context["limit"] == 2 for m in told)
        assert not session.exec(
            select(Outbox).where(
                col(Outbox.person_id).in_([place.person["甲"]]), Outbox.template == "proxies.flagged"
            )
        ).all()
    flagged, _ = place.run(use.flagged, "社区", place.compound_id)
    assert flagged == [(place.person["赵六"], "赵六", 4)]
    assert place.refused(use.flagged, "甲", place.compound_id) == "not_allowed"


def test_dropping_under_the_limit_and_crossing_again_is_flagged_again(place: Place) -> None:
    place.policy = replace(place.app.policy, proxy_flag_homes=1)
    poll_id = make_poll(place.app, place.clock)
    first = place.offer("甲", "1栋/1单元/201", poll_id=poll_id)
    second = place.offer("乙", "1栋/1单元/202", poll_id=poll_id)
    place.claim("赵六", first.code)
    assert len(place.claim("赵六", second.code)[1]) == 1
    place.run(use.revoke, "乙", second.proxy.id)
    third = place.offer("乙", "1栋/1单元/202", poll_id=poll_id)
    assert len(place.claim("赵六", third.code)[1]) == 1


# --- the setting --------------------------------------------------------------------------------


def test_the_shipped_policy_flags_more_than_five_homes() -> None:
    assert load_policy(ROOT / "data" / "sla_policy.yaml", SHANGHAI).proxy_flag_homes == 5


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("{proxy_flag_homes: 0}", "proxy_flag_homes: 0 must be a whole number from 1 to 1000"),
        ("{proxy_flag_homes: five}", "must be a whole number"),
        ("{proxy_flag_homes: true}", "must be a whole number"),
        ("{proxy_homes: 5}", "unknown setting 'proxy_homes'"),
        ("[5]", "must be a mapping"),
    ],
)
def test_a_bad_limit_is_refused_naming_the_file_and_key(tmp_path: Path, setting: str, problem: str) -> None:
    shipped = (ROOT / "data" / "sla_policy.yaml").read_text(encoding="utf-8")
    text = "\n".join(line for line in shipped.splitlines() if not line.startswith("polls:"))
    path = tmp_path / "sla.yaml"
    path.write_text(text + f"\npolls: {setting}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="polls") as error:
        load_policy(path, SHANGHAI)
    assert str(path) in str(error.value) and problem in str(error.value)


def test_a_policy_file_may_set_another_limit(tmp_path: Path) -> None:
    shipped = (ROOT / "data" / "sla_policy.yaml").read_text(encoding="utf-8")
    text = "\n".join(line for line in shipped.splitlines() if not line.startswith("polls:"))
    path = tmp_path / "sla.yaml"
    path.write_text(text + "\npolls: {proxy_flag_homes: 12}\n", encoding="utf-8")
    assert load_policy(path, SHANGHAI).proxy_flag_homes == 12

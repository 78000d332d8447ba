"""Hot spots (DESIGN §4.7): the cluster windows at their edges, the repeat rule, the proactive ticket, telling
the building once, /stats and the monthly report, and who may see them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.bootstrap import App
from bot.clock import FixedClock
from db import org, reports
from db.hotspots import detect
from db.models import AuditEntry, Person, Ticket
from db.sla import load_policy
from tests.support.chat import ChatUser, person_of
from tests.support.console import other_community_staff
from tests.support.hotspots import (
    SUNNY,
    events,
    file,
    home_path,
    members,
    pushes,
    resolve,
    run,
    spots,
    ticket,
)

ROOT = Path(__file__).resolve().parent.parent
H101, H102, H201 = home_path(1, 1, "101"), home_path(1, 1, "102"), home_path(1, 2, "201")


def cluster_of_three(app: App, clock: FixedClock) -> list[int]:
    """Three lift reports in 1栋 ten minutes apart, swept as they come; their numbers."""
    numbers = []
    for path in (H101, H102, H201):
        clock.advance(minutes=10)
        numbers.append(file(app, path))
        run(app)
    return numbers


# --- the building rule at its edges ---------------------------------------------------------------


def test_two_reports_make_no_hot_spot_and_a_third_on_the_seventh_day_opens_one(
    app: App, clock: FixedClock, staff: ChatUser
) -> None:
    first = file(app, H101)
    run(app)
    clock.advance(days=3)
    second = file(app, H102)
    run(app)
    assert spots(app) == []
    clock.advance(days=4)  # exactly seven days after the first: still inside the window
    third = file(app, H201)
    done = run(app)
    assert done["hotspot_opened"] == 1
    [spot] = spots(app)
    assert (spot.kind, spot.category, spot.size) == ("building", "elevator", 3)
    assert members(app, spot.id or 0) == [first, second, third]
    proactive = ticket(app, spot.ticket_id)
    with app.sessions() as session:
        community = org.find_node(session, "铁西区/北沟街道/英雄社区")
        reporter = session.get(Person, proactive.reporter_id)
    assert community is not None and reporter is not None
    # Held by the community, in its queue, filed by the system: no home, no building of its own.
    assert (proactive.level, proactive.state, proactive.holder_id) == ("community", "new", None)
    assert proactive.holder_node_id == community.id
    assert proactive.building_id is None and proactive.home_id is None
    assert reporter.name == detect.SYSTEM_NAME
    assert proactive.accept_due_at is not None and proactive.next_due_at is not None
    for number in (first, second, third):
        assert ("internal", f"已并入主动发现 #{spot.ticket_id}") in events(app, number)
    [card] = pushes(app, "hotspots.opened")
    assert card.person_id == person_of(app.sessions, staff)
    assert card.context["tickets"] == [first, second, third]
    assert [b["data"] for row in card.buttons for b in row][-1] == f"hs:t:{spot.id}"


def test_a_third_report_a_minute_past_seven_days_opens_none(app: App, clock: FixedClock) -> None:
    file(app, H101)
    clock.advance(days=3)
    second = file(app, H102)
    clock.advance(days=4, minutes=1)
    third = file(app, H201)
    run(app)
    assert spots(app) == []
    clock.advance(hours=1)
    fourth = file(app, H101)  # the window now holds the second, third and fourth
    run(app)
    [spot] = spots(app)
    assert members(app, spot.id or 0) == [second, third, fourth]


def test_a_fourth_report_joins_the_open_hot_spot(app: App, clock: FixedClock, staff: ChatUser) -> None:
    cluster_of_three(app, clock)
    fourth = file(app, home_path(1, 2, "301"))
    done = run(app)
    assert done["hotspot_joined"] == 1 and not done["hotspot_opened"]
    [spot] = spots(app)
    assert spot.size == 4 and fourth in members(app, spot.id or 0)
    [line] = pushes(app, "hotspots.joined")
    assert line.context == {"code": spot.ticket_id, "category": "elevator", "joined": fourth, "size": 4}


def test_other_categories_and_buildings_stay_apart(app: App, clock: FixedClock) -> None:
    file(app, H101)
    file(app, H102)
    file(app, home_path(2, 1, "101"))  # another building
    file(app, H201, category="water")  # another category
    run(app)
    assert spots(app) == []
    file(app, home_path(2, 1, "102"))
    file(app, home_path(2, 2, "201"))
    file(app, H201, category="water")
    file(app, H101, category="water")
    run(app)
    assert sorted((s.building_id, s.category) for s in spots(app)) == sorted(
        [(building(app, 2), "elevator"), (building(app, 1), "water")]
    )


def building(app: App, number: int) -> int:
    with app.sessions() as session:
        node = org.find_node(session, f"{SUNNY}/{number}栋")
        assert node is not None and node.id is not None
        return node.id


def test_withdrawn_reports_do_not_count(app: App, clock: FixedClock) -> None:
    first = file(app, H101)
    file(app, H102)
    with app.sessions() as session:
        found = session.get(Ticket, first)
        assert found is not None
        found.state = "withdrawn"
        session.commit()
    file(app, H201)
    run(app)
    assert spots(app) == []


def test_after_the_proactive_ticket_is_resolved_reports_count_afresh(app: App, clock: FixedClock) -> None:
    cluster_of_three(app, clock)
    [spot] = spots(app)
    resolve(app, spot.ticket_id)
    clock.advance(hours=1)
    file(app, home_path(1, 2, "301"))
    done = run(app)
    assert not done["hotspot_joined"] and not done["hotspot_opened"]  # resolved: a new fault starts over
    file(app, home_path(1, 2, "302"))
    file(app, H101)
    run(app)
    assert len(spots(app)) == 2 and spots(app)[1].size == 3


# --- the repeat rule --------------------------------------------------------------------------------


def test_a_home_reporting_again_thirty_days_after_a_resolution_is_a_hot_spot(
    app: App, clock: FixedClock
) -> None:
    earlier = file(app, H101, category="water")
    resolve(app, earlier)
    run(app)
    clock.advance(days=30)
    again = file(app, H101, category="water")
    done = run(app)
    assert done["hotspot_opened"] == 1
    [spot] = spots(app)
    assert (spot.kind, spot.home_id is not None, spot.size) == ("repeat", True, 2)
    assert members(app, spot.id or 0) == [earlier, again]
    clock.advance(days=1)
    third = file(app, H101, category="water")
    assert run(app)["hotspot_joined"] == 1
    assert third in members(app, spot.id or 0)


def test_a_minute_past_thirty_days_is_no_repeat(app: App, clock: FixedClock) -> None:
    earlier = file(app, H101, category="water")
    resolve(app, earlier)
    clock.advance(days=30, minutes=1)
    file(app, H101, category="water")
    file(app, H102, category="water")  # another home: never a repeat of 101
    run(app)
    assert spots(app) == []


# --- one proactive ticket, whatever the sweeps do -------------------------------------------------------


def test_sweeping_again_opens_nothing_more(app: App, clock: FixedClock) -> None:
    cluster_of_three(app, clock)
    for _ in range(3):
        done = run(app)
        assert not done["hotspot_opened"] and not done["hotspot_joined"]
        clock.advance(minutes=1)
    assert len(spots(app)) == 1
    with app.sessions() as session:
        proactive = session.exec(select(Ticket).where(Ticket.reporter_id != 0, Ticket.home_id == None)).all()  # noqa: E711
    assert len(proactive) == 1


# --- telling the building once ---------------------------------------------------------------------


def test_staff_tell_the_building_once_and_a_second_press_says_so(
    app: App, clock: FixedClock, staff: ChatUser, owner: ChatUser, neighbour: ChatUser
) -> None:
    cluster_of_three(app, clock)
    [spot] = spots(app)
    staff.data(f"hs:t:{spot.id}")
    assert "2 位居民" in staff.text and "只能告知一次" in staff.text
    staff.press("确认告知")
    assert "已告知" in staff.text
    told = pushes(app, "hotspots.told")
    assert sorted(p.person_id for p in told) == sorted(
        [person_of(app.sessions, owner), person_of(app.sessions, neighbour)]
    )
    staff.data(f"hs:ok:{spot.id}")
    assert "已经告知过" in staff.text
    staff.data(f"hs:t:{spot.id}")
    assert "已经告知过" in staff.text
    assert len(pushes(app, "hotspots.told")) == 2
    with app.sessions() as session:
        [entry] = session.exec(select(AuditEntry).where(AuditEntry.action == "hotspot.tell")).all()
    assert (entry.subject, entry.subject_id, entry.actor_role) == (
        "ticket",
        spot.ticket_id,
        "community_staff",
    )
    assert entry.after == {"told": True, "recipients": 2, "hot_spot": spot.id}


def test_not_now_sends_nothing(app: App, clock: FixedClock, staff: ChatUser, owner: ChatUser) -> None:
    cluster_of_three(app, clock)
    [spot] = spots(app)
    staff.data(f"hs:t:{spot.id}")
    staff.press("暂不告知")
    assert pushes(app, "hotspots.told") == []
    assert spots(app)[0].told_at is None


def test_a_resident_or_another_community_cannot_tell_nor_list(
    app: App, clock: FixedClock, owner: ChatUser
) -> None:
    cluster_of_three(app, clock)
    [spot] = spots(app)
    owner.data(f"hs:ok:{spot.id}")
    assert "找不到这个热点" in owner.text
    owner.say("/stats")
    assert "当前热点" not in owner.text
    other = other_community_staff(app)
    other.data(f"hs:ok:{spot.id}")
    assert "找不到这个热点" in other.text
    other.say("/stats")
    assert "当前热点" not in other.text
    assert pushes(app, "hotspots.told") == []
    owner.data("hs:ok:99999999")
    assert "找不到这个热点" in owner.text


def test_a_repeat_hot_spot_has_no_building_to_tell(app: App, clock: FixedClock, staff: ChatUser) -> None:
    earlier = file(app, H101, category="water")
    resolve(app, earlier)
    clock.advance(days=2)
    file(app, H101, category="water")
    run(app)
    [spot] = spots(app)
    [card] = pushes(app, "hotspots.opened")
    assert not any(b["data"].startswith("hs:") for row in card.buttons for b in row)
    staff.data(f"hs:ok:{spot.id}")
    assert "不需要告知全楼" in staff.text


# --- /stats and the monthly report --------------------------------------------------------------


def test_stats_lists_the_current_hot_spots_and_counts_them(
    app: App, clock: FixedClock, staff: ChatUser
) -> None:
    cluster_of_three(app, clock)
    [spot] = spots(app)
    staff.say("/stats")
    assert "当前热点" in staff.text
    assert f"#{spot.ticket_id} 电梯" in staff.text or f"#{spot.ticket_id}" in staff.text
    assert "阳光花园 1栋 · 3 张工单" in staff.text
    assert "本期新发现热点（主动发现）：1 个" in staff.text
    resolve(app, spot.ticket_id)
    staff.say("/stats")
    assert "当前热点" not in staff.text  # no longer current; the month still counts it
    assert "本期新发现热点（主动发现）：1 个" in staff.text


def test_the_monthly_report_counts_hot_spots_opened_in_the_month(app: App, clock: FixedClock) -> None:
    cluster_of_three(app, clock)
    zone = ZoneInfo("Asia/Shanghai")
    with app.sessions() as session:
        root = org.find_node(session, "铁西区")
        assert root is not None
        period = reports.parse_period("2026-11", clock.now(), zone)
        assert period is not None
        records = reports.load_records(session, [root], period)
        later = reports.parse_period("2026-12", clock.now(), zone)
        assert later is not None
        none = reports.load_records(session, [root], later)
    rows = reports.report_rows(records, clock.now())
    assert rows[0].group == "total" and rows[0].hotspots == 1
    assert [r.hotspots for r in rows if r.group == "category"] == [1]
    text = reports.to_csv(rows)
    header, total = text.splitlines()[:2]
    assert header.endswith(",hotspots") and total.endswith(",1")
    assert reports.report_rows(none, clock.now())[0].hotspots == 0


# --- the policy file ---------------------------------------------------------------------------------


def test_the_shipped_policy_has_the_default_hot_spot_settings() -> None:
    policy = load_policy(ROOT / "data" / "sla_policy.yaml", ZoneInfo("Asia/Shanghai"))
    assert policy.cluster_size == 3
    assert policy.cluster_window == timedelta(days=7)
    assert policy.repeat_window == timedelta(days=30)


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("{tickets: 1}", "from 2 to 100"),
        ("{tickets: three}", "from 2 to 100"),
        ("{tickets: true}", "from 2 to 100"),
        ("{within: 7}", "30m, 2h or 7d"),
        ("{repeat_within: soon}", "30m, 2h or 7d"),
        ("{within: 100d}", "at most 90d"),
        ("{window: 7d}", "unknown setting 'window'"),
        ("[3, 7d]", "must be a mapping"),
    ],
)
def test_bad_hot_spot_settings_are_refused_by_name(tmp_path: Path, setting: str, problem: str) -> None:
    shipped = (ROOT / "data" / "sla_policy.yaml").read_text(encoding="utf-8")
    text = "\n".join(line for line in shipped.splitlines() if not line.startswith("hot_spots:"))
    path = tmp_path / "sla.yaml"
    path.write_text(text + f"\nhot_spots: {setting}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="hot_spots") as error:
        load_policy(path, ZoneInfo("Asia/Shanghai"))
    assert problem in str(error.value)


def test_a_policy_file_may_set_other_numbers(app: App, clock: FixedClock, tmp_path: Path) -> None:
    shipped = (ROOT / "data" / "sla_policy.yaml").read_text(encoding="utf-8")
    text = "\n".join(line for line in shipped.splitlines() if not line.startswith("hot_spots:"))
    path = tmp_path / "sla.yaml"
    path.write_text(text + "\nhot_spots: {tickets: 2, within: 2d}\n", encoding="utf-8")
    policy = load_policy(path, ZoneInfo("Asia/Shanghai"))
    assert (policy.cluster_size, policy.cluster_window) == (2, timedelta(days=2))


def test_residents_never_meet_the_proactive_ticket(app: App, clock: FixedClock, owner: ChatUser) -> None:
    """It has no building or home of its own: never offered as "me too", never in a resident's list."""
    cluster_of_three(app, clock)
    [spot] = spots(app)
    owner.say("/report")
    owner.press("电梯故障")
    owner.say("电梯又坏了")
    assert "同楼栋已有相同类别的工单" in owner.text
    assert f"#{spot.ticket_id}" not in owner.text
    owner.press("新建")
    owner.press("提交")
    assert run(app)["hotspot_joined"] == 1
    owner.say("/my")
    assert f"#{spot.ticket_id}" not in owner.text
    owner.say(f"#{spot.ticket_id}")
    assert "主动发现" not in owner.text

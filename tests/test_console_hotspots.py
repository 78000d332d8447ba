"""热点 in the console: the hot spots of the desk's jurisdiction with their proactive and gathered tickets,
telling a building once, the tiles on the home and stats pages, and who may see them."""

from __future__ import annotations

import csv
import io

from bot.bootstrap import App
from bot.clock import FixedClock
from tests.support.chat import ChatUser
from tests.support.console import forced_desk, other_community_staff, sign_in
from tests.support.hotspots import file, home_path, members, pushes, resolve, run, spots


def lift_cluster(app: App, clock: FixedClock) -> list[int]:
    """Three lift reports in 阳光花园 1栋, swept: one hot spot."""
    numbers = []
    for path in (home_path(1, 1, "101"), home_path(1, 1, "102"), home_path(1, 2, "201")):
        clock.advance(minutes=5)
        numbers.append(file(app, path))
    run(app)
    return numbers


def test_staff_see_the_hot_spot_with_its_tickets_and_tell_the_building_once(
    app: App, clock: FixedClock, staff: ChatUser, owner: ChatUser, neighbour: ChatUser
) -> None:
    gathered = lift_cluster(app, clock)
    [spot] = spots(app)
    desk = sign_in(app, staff)
    page = desk.get("/console/hotspots")
    assert page.status_code == 200
    assert f'href="/console/tickets/{spot.ticket_id}" data-proactive="{spot.ticket_id}"' in page.text
    for number in gathered:
        assert f'href="/console/tickets/{number}" data-member="{number}"' in page.text
    assert "阳光花园 1栋" in page.text and "同楼同类" in page.text and "处理中" in page.text
    assert f'action="/console/hotspots/{spot.id}/tell"' in page.text
    done = desk.post(f"/console/hotspots/{spot.id}/tell")
    assert done.status_code == 303 and done.headers["location"].startswith("/console/hotspots?done=told")
    after = desk.get(done.headers["location"])
    assert "已告知本楼居民" in after.text and "已告知 2 位居民" in after.text
    assert f'action="/console/hotspots/{spot.id}/tell"' not in after.text
    again = desk.post(f"/console/hotspots/{spot.id}/tell")
    assert "done=already_told" in again.headers["location"]
    assert len(pushes(app, "hotspots.told")) == 2
    # The audit log shows it, with its word.
    log = desk.get("/console/audit")
    assert "热点告知本楼居民" in log.text


def test_current_and_all(app: App, clock: FixedClock, staff: ChatUser) -> None:
    lift_cluster(app, clock)
    [spot] = spots(app)
    resolve(app, spot.ticket_id)
    desk = sign_in(app, staff)
    assert "没有热点" in desk.get("/console/hotspots").text
    every = desk.get("/console/hotspots?show=all")
    assert f'data-spot="{spot.id}"' in every.text and "已办结" in every.text
    assert desk.get("/console/hotspots?show=everything").status_code == 400


def test_home_and_stats_link_to_the_hot_spots(app: App, clock: FixedClock, staff: ChatUser) -> None:
    lift_cluster(app, clock)
    desk = sign_in(app, staff)
    home = desk.get("/console")
    assert 'href="/console/hotspots" data-tile="hotspots"><span class="n">1</span>' in home.text
    stats = desk.get("/console/stats?month=2026-11")
    assert 'data-hotspots="1"' in stats.text and "当月新发现热点 1 个" in stats.text
    assert 'href="/console/hotspots"' in stats.text
    report = desk.get("/console/stats/report.csv?month=2026-11")
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert rows[0][-1] == "hotspots" and rows[1][0] == "total" and rows[1][-1] == "1"


def test_others_see_only_their_jurisdiction_and_residents_nothing(
    app: App, clock: FixedClock, owner: ChatUser
) -> None:
    lift_cluster(app, clock)
    [spot] = spots(app)
    other = sign_in(app, other_community_staff(app))
    page = other.get("/console/hotspots?show=all")
    assert page.status_code == 200 and f'data-spot="{spot.id}"' not in page.text
    assert other.post(f"/console/hotspots/{spot.id}/tell").status_code == 404
    assert 'data-tile="hotspots"><span class="n">0</span>' in other.get("/console").text
    resident = forced_desk(app, owner)
    assert resident.get("/console/hotspots").status_code == 403
    assert resident.post(f"/console/hotspots/{spot.id}/tell").status_code == 403
    assert pushes(app, "hotspots.told") == []
    assert spots(app)[0].told_at is None and len(members(app, spot.id or 0)) == 3

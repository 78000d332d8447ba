"""统计 in the console: the chat's /stats numbers over months and by group, as charts and tables, the
monthly report as CSV and XLSX (formula-safe), and each person kept to their jurisdiction."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import event
from sqlmodel import select

from bot.bootstrap import App
from bot.clock import FixedClock
from bot.console import charts, sheets
from core import actions
from db import org, people, reports
from db.models import Grid, Identity, OrgNode, Person
from db.rates import Rates, Record
from handlers import stats as chat_stats
from tests.support.chat import ChatUser, file_report
from tests.support.console import sign_in

COMMUNITY = "铁西区/北沟街道/英雄社区"
SUNSHINE = f"{COMMUNITY}/阳光花园"
HEPING = f"{COMMUNITY}/和平里小区"
FORMULA = "=cmd|' /C calc'!A0"
ZONE = ZoneInfo("Asia/Shanghai")


# --- helpers --------------------------------------------------------------------------------------


def filed(user: ChatUser, text: str, category: str) -> int:
    """File a report as the resident does; the new ticket's number."""
    found = re.search(r"#(\d+)", file_report(user, text, category))
    assert found, user.text
    return int(found.group(1))


def joined(app: App, ref: str, name: str, kind: str, path: str, home: bool = False) -> ChatUser:
    """Someone who joined with a fresh invite to a home or a role on a node."""
    with app.sessions() as session:
        if home:
            target = org.find_home(session, path)
            assert target is not None
            code = people.create_invite(session, kind, app.clock.now(), home_id=target.id).code
        else:
            node = org.find_node(session, path)
            assert node is not None
            code = people.create_invite(session, kind, app.clock.now(), node_id=node.id).code
        session.commit()
    user = ChatUser(app.service, ref, name=name)
    user.say(f"/start {code}")
    return user


def node_id(app: App, path: str) -> int:
    with app.sessions() as session:
        node = org.find_node(session, path)
        assert node is not None and node.id is not None
        return node.id


def rename_node(app: App, path: str, name: str) -> None:
    with app.sessions() as session:
        node = session.get(OrgNode, node_id(app, path))
        assert node is not None
        node.name = name
        session.commit()


def rename_person(app: App, user: ChatUser, name: str) -> None:
    with app.sessions() as session:
        identity = session.exec(select(Identity).where(Identity.external_id == user.user_ref)).one()
        person = session.get(Person, identity.person_id)
        assert person is not None
        person.name = name
        session.commit()


def november(app: App, owner: ChatUser, neighbour: ChatUser, worker: ChatUser) -> None:
    """T1 accepted and resolved in time, rated 满意; T2 never touched, both its deadlines pass (8 days)."""
    clock: FixedClock = app.clock  # type: ignore[assignment]
    t1 = filed(owner, "楼上装修太吵", "噪音扰民")
    t2 = filed(neighbour, "楼道里堆满杂物", "环境卫生")
    assert t2 == t1 + 1
    clock.advance(hours=1)
    worker.data(actions.Task("a", ticket=t1).encode())
    assert "已接单" in worker.text
    worker.data(actions.Task("r", ticket=t1).encode())
    worker.press("经核实无需处理")
    worker.say("已上门核实，装修在允许时段内")
    assert "已办结" in worker.text
    owner.data(actions.Rate("s", ticket=t1).encode())
    clock.advance(days=8)


def chat_total(user: ChatUser, period: str) -> list[str]:
    """The three percentages of the total line of the chat's /stats for a period."""
    user.say(f"/stats {period}")
    found = re.search(r"\n合计\n(.+)\n", user.text)
    assert found, user.text
    return [cell.strip(" \u2007") for cell in found.group(1).split("·")]


def total_row(html: str) -> str:
    found = re.search(r'<tr class="total">(.*?)</tr>', html, re.S)
    assert found, html
    return found.group(1)


def chart(html: str, name: str) -> dict:
    found = re.search(rf'<script type="application/json" id="chart-{name}">(.*?)</script>', html, re.S)
    assert found, name
    return json.loads(found.group(1))


def section(html: str, key: str) -> str:
    found = re.search(rf'<section class="card" aria-labelledby="by-{key}">(.*?)</section>', html, re.S)
    return found.group(1) if found else ""


# --- the page -------------------------------------------------------------------------------------


def test_the_page_shows_the_chats_rates_by_month_and_by_group(
    app: App,
    staff: ChatUser,
    owner: ChatUser,
    neighbour: ChatUser,
    worker: ChatUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(chat_stats, "_draw", lambda *args: None)  # its table is what we compare, not its PNG
    november(app, owner, neighbour, worker)
    # December: a ticket in 和平里小区 (第二网格 has no worker: the community's queue, nobody holds it).
    app.clock.advance(days=5)  # type: ignore[attr-defined]
    heping = joined(app, "owner-heping", "陈和平", "owner", f"{HEPING}/1号楼/1单元/101", home=True)
    filed(heping, "半夜施工", "噪音扰民")
    in_chat = chat_total(staff, "2026-11")
    assert in_chat == ["50.0%", "50.0%", "100.0%"]  # accepted 1/2 in time, resolved 1/2, satisfied 1/1
    desk = sign_in(app, staff)

    page = desk.get("/console/stats?month=2026-11&months=12")
    assert page.status_code == 200
    total = total_row(page.text)
    assert re.findall(r'<span class="pct">([\d.]+%)</span>', total) == in_chat
    assert re.findall(r'<span class="frac">(\d+/\d+)</span>', total) == ["1/2", "1/2", "1/1"]
    assert "2026-11 月度统计" in page.text and "英雄社区" in page.text

    trend = chart(page.text, "trend")
    months = trend["xAxis"]["data"]
    assert len(months) == 12 and months[0] == "2026-01" and months[-1] == "2026-12"
    assert [s["name"] for s in trend["series"]] == ["响应率", "解决率", "满意率"]
    assert [s["data"][-2] for s in trend["series"]] == [50.0, 50.0, 100.0]
    assert [s["data"][-1] for s in trend["series"]] == [None, None, None]  # December's is not due yet
    assert [s["data"][-3] for s in trend["series"]] == [None, None, None]  # October: nothing filed
    assert trend["yAxis"]["max"] == 100

    grid = chart(page.text, "grid")
    assert grid["yAxis"]["data"] == ["英雄社区第一网格"]
    assert [s["data"] for s in grid["series"]] == [[50.0], [50.0], [100.0]]
    assert "噪音扰民" in chart(page.text, "category")["yAxis"]["data"]
    assert chart(page.text, "holder")["yAxis"]["data"] == ["刘网格"]
    assert "阳光花园" in section(page.text, "compound")

    reads: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "FROM ticket" in statement:
            reads.append(statement)

    event.listen(app.engine, "before_cursor_execute", count)
    december = desk.get("/console/stats?months=12")
    event.remove(app.engine, "before_cursor_execute", count)
    assert len(reads) == 1  # a year of tickets in one read, split by month in Python
    assert "2026-12 月度统计" in december.text
    assert re.findall(r'<td class="num">(\d+)</td>', total_row(december.text))[0] == "1"
    assert "英雄社区第二网格" in section(december.text, "grid")
    assert "英雄社区第一网格" not in section(december.text, "grid")
    assert "未指派" in section(december.text, "holder")
    assert len(chart(december.text, "trend")["xAxis"]["data"]) == 12
    trend = chart(desk.get("/console/stats").text, "trend")
    assert len(trend["xAxis"]["data"]) == 6 and trend["xAxis"]["data"][-2:] == ["2026-11", "2026-12"]

    # Narrowed to one compound, and to one grid, of the jurisdiction.
    sunshine = desk.get(f"/console/stats?node=c{node_id(app, SUNSHINE)}&month=2026-11")
    assert "2/2" not in sunshine.text and re.findall(
        r'<span class="frac">(\d+/\d+)</span>', total_row(sunshine.text)
    ) == ["1/2", "1/2", "1/1"]
    assert chart(sunshine.text, "trend")["title"]["subtext"] == "阳光花园"
    none_there = desk.get(f"/console/stats?node=c{node_id(app, HEPING)}&month=2026-11")
    assert "这个月没有受理的工单" in none_there.text
    assert desk.get("/console/stats?month=2026-13").status_code == 400
    assert desk.get("/console/stats?months=7").status_code == 400
    assert desk.get("/console/stats?months=abc").status_code == 400
    assert desk.get("/console/stats?node=x1").status_code == 400

    assert desk.post("/console/lang", {"locale": "en"}).status_code == 303
    english = desk.get("/console/stats?month=2026-11")
    assert "Statistics" in english.text and "2026-11 in detail" in english.text
    assert [s["name"] for s in chart(english.text, "trend")["series"]] == [
        "Response",
        "Resolution",
        "Satisfaction",
    ]
    assert "Noise" in chart(english.text, "category")["yAxis"]["data"]
    assert "50.0%" in total_row(english.text)


def test_the_monthly_report_downloads_as_csv_and_xlsx_with_names_kept_as_text(
    app: App, staff: ChatUser, owner: ChatUser, worker: ChatUser
) -> None:
    heping = joined(app, "owner-heping", "陈和平", "owner", f"{HEPING}/1号楼/1单元/101", home=True)
    rename_node(app, HEPING, FORMULA)
    rename_person(app, worker, "<script>alert(1)</script>")
    filed(heping, "半夜施工", "噪音扰民")
    filed(owner, "楼上装修太吵", "噪音扰民")
    desk = sign_in(app, staff)

    page = desk.get("/console/stats")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text  # the handler's table
    assert "<script>alert(1)</script>" in chart(page.text, "holder")["yAxis"]["data"]  # JSON, escaped
    assert 'href="/console/stats/report.xlsx?node=&amp;month=2026-11"' in page.text

    got = desk.get("/console/stats/report.csv?month=2026-11")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert 'filename="linli-report-2026-11.csv"' in got.headers["content-disposition"]
    assert got.content.startswith("\ufeff".encode())
    rows = list(csv.reader(got.content.decode("utf-8-sig").splitlines()))
    assert rows[0] == list(reports.CSV_HEADER)
    assert rows[1][:3] == ["total", "合计", "2"]
    by_name = {(r[0], r[1]): r for r in rows[1:]}
    assert ("compound", "'" + FORMULA) in by_name and ("compound", "阳光花园") in by_name
    assert {r[0] for r in rows[1:]} == {"total", "grid", "category", "compound"}  # as `linli report`
    # The same rows as `linli report` writes (db.reports.to_csv), the names made safe.
    with app.sessions() as session:
        community = org.find_node(session, COMMUNITY)
        assert community is not None
        records = reports.load_records(session, [community], reports.month(2026, 11, ZONE))
    expected = reports.report_rows(
        records,
        app.clock.now(),
        category_name=lambda k: app.catalog.get(k).name("zh_CN"),
        no_grid="未划网格",  # type: ignore[union-attr]
    )
    assert len(rows) == len(expected) + 1
    assert [r[2:] for r in rows[1:]] == [
        next(csv.reader([line]))[2:] for line in reports.to_csv(expected).splitlines()[1:]
    ]

    book = desk.get("/console/stats/report.xlsx?month=2026-11")
    assert book.status_code == 200 and "spreadsheetml" in book.headers["content-type"]
    sheet = load_workbook(io.BytesIO(book.content)).active
    assert sheet is not None and sheet.title == "2026-11"
    cells = list(sheet.iter_rows(values_only=True))
    assert list(cells[0]) == list(reports.CSV_HEADER)
    assert cells[1][:3] == ("total", "合计", 2)
    [formula_row] = [r for r in sheet.iter_rows() if r[1].value == FORMULA]
    assert formula_row[0].value == "compound" and formula_row[1].data_type == "s"
    assert formula_row[2].value == 1  # counts stay numbers

    english = desk.get("/console/stats/report.csv?month=2026-11")
    assert english.status_code == 200
    assert desk.get("/console/stats/report.csv?month=nonsense").status_code == 400


def test_each_person_sees_the_numbers_of_their_jurisdiction_only(
    app: App, staff: ChatUser, owner: ChatUser
) -> None:
    heping = joined(app, "owner-heping", "陈和平", "owner", f"{HEPING}/1号楼/1单元/101", home=True)
    filed(heping, "半夜施工", "噪音扰民")
    filed(owner, "楼上装修太吵", "噪音扰民")
    with app.sessions() as session:
        street = org.find_node(session, "铁西区/北沟街道")
        assert street is not None
        other = OrgNode(kind="community", name="光明社区", parent_id=street.id)
        session.add(other)
        session.flush()
        other.path = f"{street.path}{other.id}/"
        session.commit()
    stranger = sign_in(
        app, joined(app, "staff-other", "光明社区李干事", "community_staff", "铁西区/北沟街道/光明社区")
    )
    page = stranger.get("/console/stats")
    assert page.status_code == 200
    assert (
        "阳光花园" not in page.text and "和平里小区" not in page.text and "这个月没有受理的工单" in page.text
    )
    assert stranger.get(f"/console/stats?node=c{node_id(app, SUNSHINE)}").status_code == 403
    assert stranger.get(f"/console/stats/report.csv?node=c{node_id(app, SUNSHINE)}").status_code == 403
    rows = list(
        csv.reader(stranger.get("/console/stats/report.csv").content.decode("utf-8-sig").splitlines())
    )
    assert rows[1][:3] == ["total", "合计", "0"] and len(rows) == 2

    company = sign_in(app, joined(app, "property-1", "物业老周", "property_staff", HEPING))
    page = company.get("/console/stats")
    assert page.status_code == 200
    assert "阳光花园" not in page.text and "和平里小区" in page.text
    assert re.findall(r'<td class="num">(\d+)</td>', total_row(page.text))[0] == "1"
    assert company.get(f"/console/stats?node=c{node_id(app, SUNSHINE)}").status_code == 403
    assert "英雄社区第一网格" not in page.text  # it covers only 阳光花园's buildings
    with app.sessions() as session:
        grids = {g.name: g.id for g in session.exec(select(Grid)).all()}
    assert company.get(f"/console/stats?node=g{grids['英雄社区第一网格']}").status_code == 403
    second = company.get(f"/console/stats?node=g{grids['英雄社区第二网格']}")
    assert second.status_code == 200 and "英雄社区第二网格" in second.text

    committee = sign_in(app, joined(app, "cmte-1", "赵委员", "owners_committee", SUNSHINE))
    assert committee.get("/console/stats").status_code == 403
    assert committee.get("/console/stats/report.xlsx").status_code == 403


# --- the pure parts -------------------------------------------------------------------------------


def test_last_months_cross_the_year_and_a_span_splits_by_month() -> None:
    now = datetime(2026, 1, 31, 17, 0, tzinfo=UTC)  # already February 1st in Shanghai
    periods = reports.last_months(now, ZONE, 3)
    assert [p.label for p in periods] == ["2025-12", "2026-01", "2026-02"]
    at = [datetime(2026, 1, 31, 15, 59, tzinfo=UTC), datetime(2026, 1, 31, 16, 0, tzinfo=UTC)]
    records = [Record(t, None, None, None, None) for t in at]
    split = reports.by_period(records, periods)
    assert [len(split[p.label]) for p in periods] == [0, 1, 1]


def test_chart_options_hold_percentages_and_gaps() -> None:
    half = Rates(filed=2, accept_due=3, accepted_in_time=2, rated=0)
    assert charts.value(Fraction(2, 3)) == 66.7 and charts.value(None) is None
    option = charts.trend("t", "s", ("a", "b", "c"), ["2026-10", "2026-11"], [Rates(), half])
    assert [s["data"] for s in option["series"]] == [[None, 66.7], [None, None], [None, None]]
    assert option["tooltip"]["renderMode"] == "richText"  # names are drawn, never parsed as HTML
    many = charts.bars("t", "s", ("a", "b", "c"), [(f"g{n}", half) for n in range(30)])
    assert many["dataZoom"] and many["yAxis"]["data"][0] == "g0" and many["xAxis"]["max"] == 100
    assert charts.size(2) == "s" and charts.size(30) == "l"


def test_spreadsheet_cells_that_could_be_formulas_stay_text() -> None:
    assert [sheets.text_cell(v) for v in ("=1+1", "+1", "-1", "@x", "ok")] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@x",
        "ok",
    ]
    data = sheets.csv_bytes(["a", "b"], [["=HYPERLINK(1)", 3], [None, "x"]])
    assert data.decode("utf-8-sig").splitlines() == ["a,b", "'=HYPERLINK(1),3", ",x"]
    sheet = load_workbook(io.BytesIO(sheets.xlsx_bytes("t", ["a"], [["=SUM(1)"], [5]]))).active
    assert sheet is not None
    assert sheet["A2"].value == "=SUM(1)" and sheet["A2"].data_type == "s" and sheet["A3"].value == 5

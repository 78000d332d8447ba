"""Staff at work: /queue (assign, transfers, duplicates), /stats with its chart, `linli report`, digests."""

from __future__ import annotations

import asyncio
import csv
import re
import shutil
import unicodedata
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.bootstrap import App
from bot.channels.webchat import FILE_NAME
from bot.cli import main
from bot.clock import FixedClock, SystemClock
from bot.digest import morning_digest
from core import actions, notify, tickets
from core.work import Work
from db import org, people
from db.models import Identity, Outbox, Person, Ticket, TicketFollower, WebMessage
from tests.support.chat import ChatUser
from tests.support.console import other_community_staff

COMMUNITY = "铁西区/北沟街道/英雄社区"
HEPING_HOME = f"{COMMUNITY}/和平里小区/1号楼/1单元/101"  # 1号楼 is in 第二网格, which has no worker
ARTIFACTS = Path(__file__).parent / "artifacts"


# --- helpers --------------------------------------------------------------------------------------


def invite_home(app: App, code: str, path: str) -> None:
    """An owner invite for a home outside the demo invites."""
    with app.sessions() as session:
        home = org.find_home(session, path)
        assert home is not None
        people.create_invite(session, "owner", app.clock.now(), home_id=home.id, code=code, uses=None)
        session.commit()


def file_report(user: ChatUser, category: str, description: str) -> int:
    """Walk the report flow and return the new ticket's number."""
    text = user.report(category, description)
    found = re.search(r"#(\d+)", text)
    assert found, text
    return int(found.group(1))


def ticket(app: App, ticket_id: int) -> Ticket:
    with app.sessions() as session:
        found = session.get(Ticket, ticket_id)
        assert found is not None
        return found


def act(app: App, ticket_id: int, person: int, use_case: Callable[..., object], *args: object) -> None:
    """Apply a ticket use case as a person, with its pushes (the grid worker's and resident's own flows
    are tested elsewhere)."""
    with app.sessions() as session:
        work = Work(session, app.clock.now(), app.policy)
        use_case(work, people.actor(session, person), ticket_id, *args)
        notify.publish(work)
        session.commit()


def person_id(app: App, user: ChatUser) -> int:
    with app.sessions() as session:
        identity = session.exec(select(Identity).where(Identity.external_id == user.user_ref)).one()
        return identity.person_id


def pushed_to(app: App, user: ChatUser) -> list[str]:
    """Texts pushed to a user's web chat after draining the outbox."""
    asyncio.run(app.dispatcher.drain())
    with app.sessions() as session:
        identity = session.exec(select(Identity).where(Identity.external_id == user.user_ref)).one()
        rows = session.exec(
            select(WebMessage).where(WebMessage.identity_id == identity.id, WebMessage.outgoing == True)  # noqa: E712
        ).all()
        return [m.body["text"] for m in rows]


def button_data(user: ChatUser, label: str) -> str:
    for message in user.last:
        for row in message.buttons:
            for text, data in row:
                if label in text:
                    return data
    raise AssertionError(f"no button {label!r} in {user.buttons()}")


@pytest.fixture
def grid(worker: ChatUser) -> ChatUser:
    """The grid worker, by the name these tests use."""
    return worker


@pytest.fixture
def heping(app: App) -> ChatUser:
    invite_home(app, "HEPING-OWNER", HEPING_HOME)
    user = ChatUser(app.service, "owner-heping", name="陈和平")
    user.say("/start HEPING-OWNER")
    return user


# --- /queue ---------------------------------------------------------------------------------------


def test_unassigned_ticket_is_queued_and_assigning_sends_the_worker_the_task_card(
    app: App, staff: ChatUser, grid: ChatUser, heping: ChatUser
) -> None:
    code = file_report(heping, "噪音扰民", "楼下商铺半夜装修，电钻声不断")
    assert ticket(app, code).holder_id is None  # 第二网格 has no worker: the community's queue

    staff.say("/queue")
    assert "待派 1" in staff.text
    assert f"#{code} 噪音扰民" in staff.text and "和平里小区 1号楼" in staff.text
    staff.press(f"指派 #{code}")
    assert "指派给哪位网格员" in staff.text
    assert staff.buttons() == ["刘网格"]  # the grid workers of 英雄社区
    staff.press("刘网格")
    assert f"已把工单 #{code} 指派给 刘网格" in staff.text

    held = ticket(app, code)
    assert (held.holder_id, held.state) == (person_id(app, grid), "assigned")
    card = [t for t in pushed_to(app, grid) if f"#{code}" in t]
    assert card and "新任务" in card[-1] and "楼下商铺半夜装修" in card[-1]
    staff.say("/queue")
    assert "工作队列是空的" in staff.text


def test_transfer_requests_are_refused_or_approved_by_community_staff(
    app: App, staff: ChatUser, grid: ChatUser, owner: ChatUser
) -> None:
    code = file_report(owner, "环境卫生", "单元门口垃圾三天没人清")
    worker = person_id(app, grid)
    assert ticket(app, code).holder_id == worker

    def request() -> None:
        act(app, code, worker, tickets.request_transfer, "这是物业的活")

    request()
    staff.say("/queue")
    assert "转派申请 1" in staff.text and "转派理由：这是物业的活" in staff.text
    staff.press(f"驳回转派 #{code}")
    assert f"已驳回工单 #{code} 的转派申请" in staff.text
    refused = ticket(app, code)
    assert (refused.holder_id, refused.transfer_requested_by) == (worker, None)
    assert any("未同意" in t for t in pushed_to(app, grid))

    request()
    # the button pushed with the request carries the same data
    staff.data(actions.Queue("ty", ticket=code).encode())
    assert f"已同意工单 #{code} 的转派申请" in staff.text
    returned = ticket(app, code)
    assert (returned.holder_id, returned.level, returned.state) == (None, "community", "new")
    staff.data(actions.Queue("ty", ticket=code).encode())  # a double click
    assert "没有待处理的转派申请" in staff.text
    staff.say("/queue")
    assert f"指派 #{code}" in staff.buttons()  # back in the queue for reassignment


def test_close_as_duplicate_asks_for_the_original(
    app: App, staff: ChatUser, grid: ChatUser, owner: ChatUser, neighbour: ChatUser
) -> None:
    first = file_report(owner, "公共设施损坏", "1栋门口路灯不亮")
    second = file_report(neighbour, "其他", "楼门口那盏灯坏了好几天")
    staff.data(actions.Queue("d", ticket=second).encode())
    assert f"工单 #{second} 与哪件工单重复" in staff.text
    staff.say("#999999")
    assert "没有这个工单编号" in staff.text
    staff.say(f"#{second}")
    assert "不能把工单" in staff.text
    staff.say(f"#{first}")
    assert f"工单 #{second} 已作为 #{first} 的重复工单关闭" in staff.text
    closed = ticket(app, second)
    assert (closed.state, closed.duplicate_of) == ("duplicate", first)
    with app.sessions() as session:
        assert session.get(TicketFollower, (first, person_id(app, neighbour))) is not None
    assert any(f"#{first}" in t and "合并" in t for t in pushed_to(app, neighbour))
    staff.data(actions.Queue("d", ticket=second).encode())  # pressed again on the old list
    assert "已办结或关闭" in staff.text


def test_residents_grid_workers_and_outsiders_are_refused_and_nothing_changes(
    app: App, staff: ChatUser, grid: ChatUser, owner: ChatUser, heping: ChatUser
) -> None:
    code = file_report(heping, "噪音扰民", "夜里广场舞音响太响")
    worker = person_id(app, grid)
    for user in (owner, grid):
        user.say("/queue")
        assert "仅供社区" in user.text
        for data in (
            actions.Queue("a", ticket=code).encode(),
            actions.Queue("w", ticket=code, worker=worker).encode(),
            actions.Queue("ty", ticket=code).encode(),
            actions.Queue("d", ticket=code).encode(),
        ):
            user.data(data)
            assert "仅供社区" in user.text, data
        user.say("/stats")
        assert "仅供社区" in user.text

    outsider = other_community_staff(app)
    outsider.say("/queue")
    assert "工作队列是空的" in outsider.text  # 英雄社区's tickets are not theirs to see
    for data in (
        actions.Queue("a", ticket=code).encode(),
        actions.Queue("w", ticket=code, worker=worker).encode(),
        actions.Queue("d", ticket=code).encode(),
    ):
        outsider.data(data)
        assert "不在您的管辖范围内" in outsider.text, data
    outsider.data(actions.Queue("ty", ticket=code).encode())
    assert "不在您的管辖范围内" in outsider.text

    # forged or stale data
    for data in (
        actions.Queue("a", ticket=999999).encode(),
        "q:a:abc",
        "q:w:1",
        f"q:zz:{code}",
        actions.Queue("x").encode(),
    ):
        staff.data(data)
        assert "按钮已失效" in staff.text, data
    # a resident is no grid worker
    staff.data(actions.Queue("w", ticket=code, worker=person_id(app, owner)).encode())
    assert "所选人员不在" in staff.text

    untouched = ticket(app, code)
    assert (untouched.holder_id, untouched.state, untouched.level) == (None, "new", "community")


# --- /stats, `linli report`, digests --------------------------------------------------------------


def three_tickets(app: App, grid: ChatUser, owner: ChatUser, neighbour: ChatUser, heping: ChatUser) -> None:
    """T1 accepted and resolved in time, 满意; T2 accepted late, resolved, 不满意 (reopened);
    T3 in the community queue, never accepted. The clock ends 26 h after filing."""
    clock: FixedClock = app.clock  # type: ignore[assignment]
    worker = person_id(app, grid)
    t1 = file_report(owner, "环境卫生", "垃圾桶满了")
    t2 = file_report(neighbour, "停车/占道", "消防通道被占")
    file_report(heping, "噪音扰民", "半夜施工")

    def accept(ticket_id: int) -> None:
        act(app, ticket_id, worker, tickets.accept)

    def resolve(ticket_id: int) -> None:
        act(app, ticket_id, worker, tickets.resolve, "fixed", "已处理", [], False)

    def rating(ticket_id: int, value: str) -> None:
        act(app, ticket_id, ticket(app, ticket_id).reporter_id, tickets.rate, value, "")

    clock.advance(hours=1)
    accept(t1)
    clock.advance(hours=1)
    resolve(t1)
    rating(t1, "satisfied")
    clock.advance(hours=23)  # 25 h: past the general 24 h accept deadline
    accept(t2)
    clock.advance(hours=1)
    resolve(t2)
    rating(t2, "dissatisfied")


def half_widths(line: str) -> int:
    """A line's width in half-width cells (a Chinese character takes two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def test_stats_table_and_chart(
    app: App, staff: ChatUser, grid: ChatUser, owner: ChatUser, neighbour: ChatUser, heping: ChatUser
) -> None:
    three_tickets(app, grid, owner, neighbour, heping)
    staff.say("/stats")
    text = staff.text
    assert "英雄社区 · 2026-11" in text
    # total: accepted in time 1 of 3 due, resolved in time 1 of 1, satisfied 1 of 2 rated
    # each row: its name, then two short lines; the rates (in the order the section's title names them)
    # padded with figure spaces so that they line up row under row
    f = "\u2007"  # a figure space
    total = f"【合计】 响应 · 解决 · 满意\n合计\n  {f}33.3% · 100.0% · {f}50.0%\n"
    assert total + "  受理 3 未结 2 超时 1 未评价 0" in text
    assert f"英雄社区第一网格\n  {f}50.0% · 100.0% · {f}50.0%\n  受理 2" in text
    none = f * 5 + "—"
    assert f"英雄社区第二网格\n  {f * 2}0.0% · {none} · {none}\n  受理 1 未结 1 超时 1" in text
    assert "环境卫生\n" in text and "和平里小区\n" in text and "阳光花园\n" in text
    rows = [line for line in text.splitlines() if line.startswith("  ")]
    assert rows and max(map(half_widths, rows)) <= 32  # short lines, nothing to wrap on a phone

    [message] = staff.last
    [photo] = message.photos
    assert FILE_NAME.match(photo.ref)
    path = app.settings.files_dir / photo.ref
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(path, ARTIFACTS / "stats-chart.png")

    staff.say("/queue")  # T2 came back one level up, to the community: escalated to me
    assert "上报给我 1" in staff.text and "待派 1" in staff.text

    staff.say("/stats 2026-10")
    assert "没有受理的工单" in staff.text and not staff.last[0].photos
    staff.say("/stats 7d")
    assert "近 7 天" in staff.text and "33.3%" in staff.text
    staff.say("/stats lastweek")
    assert "看不懂统计周期" in staff.text
    staff.say("/lang")
    staff.press("English")
    staff.say("/stats 2026-11")
    assert "[Total] resp. · res. · sat.\nTotal\n  \u200733.3% ·" in staff.text and staff.last[0].photos


def test_linli_report_writes_the_month_as_csv(
    app: App,
    staff: ChatUser,
    grid: ChatUser,
    owner: ChatUser,
    neighbour: ChatUser,
    heping: ChatUser,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    three_tickets(app, grid, owner, neighbour, heping)
    for name in ("TIME_ZONE", "DEFAULT_LOCALE", "TELEGRAM_BOT_TOKEN", "LINLI_DEMO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", app.settings.db_url)
    monkeypatch.setenv("LINLI_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setattr(SystemClock, "now", lambda self: app.clock.now())
    out = tmp_path / "report.csv"
    assert main(["report", "--month", "2026-11", "--node", COMMUNITY, "--out", str(out)]) == 0
    rows = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines()))
    # The last column counts the hot spots opened in the month: none here.
    assert rows[0][-1] == "hotspots" and all(r[-1] == "0" for r in rows[1:])
    rows = [r[:-1] for r in rows]
    assert rows[0] == [
        "group", "name", "filed", "open", "overdue", "unrated",
        "accept_due", "accepted_in_time", "response_rate_pct",
        "resolve_due", "resolved_in_time", "resolution_rate_pct",
        "rated", "satisfied", "satisfaction_rate_pct",
    ]  # fmt: skip
    assert rows[1] == [
        "total",
        "合计",
        "3",
        "2",
        "1",
        "0",
        "3",
        "1",
        "33.3",
        "1",
        "1",
        "100.0",
        "2",
        "1",
        "50.0",
    ]
    by_name = {(r[0], r[1]): r[2:] for r in rows[1:]}
    assert by_name[("grid", "英雄社区第二网格")] == [
        "1",
        "1",
        "1",
        "0",
        "1",
        "0",
        "0.0",
        "0",
        "0",
        "",
        "0",
        "0",
        "",
    ]
    assert by_name[("category", "停车/占道")][6] == "0.0"  # accepted an hour late
    assert by_name[("compound", "阳光花园")][:2] == ["2", "1"]
    assert [r[0] for r in rows[1:]].count("category") == 3

    capsys.readouterr()
    assert main(["report", "--month", "2026-10"]) == 0  # no --out: standard output, header only
    assert capsys.readouterr().out.splitlines()[1].startswith("total,合计,0,")
    assert main(["report", "--month", "November"]) == 2
    assert main(["report", "--month", "2026-11", "--node", "铁西区/没有这个街道"]) == 1


def test_morning_digest_once_a_day_only_for_people_with_something_to_report(
    app: App, staff: ChatUser, grid: ChatUser, owner: ChatUser, neighbour: ChatUser, heping: ChatUser
) -> None:
    three_tickets(app, grid, owner, neighbour, heping)
    idle = ChatUser(app.service, "grid-2", name="赵备班")
    idle.say("/start DEMO-GRID")  # the backup of 第一网格: holds nothing
    clock: FixedClock = app.clock  # type: ignore[assignment]
    clock.current = clock.current.replace(hour=0, minute=0) + timedelta(days=1)  # 08:00 in Shanghai
    zone = app.settings.zone
    with app.sessions() as session:
        assert morning_digest(session, clock.now(), zone, app.policy) == 2
        session.commit()
    with app.sessions() as session:
        assert morning_digest(session, clock.now(), zone, app.policy) == 0  # a second run the same day
        rows = session.exec(select(Outbox).where(Outbox.template.startswith("digest."))).all()  # type: ignore[attr-defined]
        recipients = {session.get(Person, r.person_id).name: r.context for r in rows}  # type: ignore[union-attr]
    assert set(recipients) == {"刘网格", "张主任"}
    assert recipients["刘网格"]["open"] == 1  # T2, reopened, still held by the worker
    assert recipients["张主任"]["overdue"] == 1  # T3: never accepted
    assert any("在办任务 1 件" in t for t in pushed_to(app, grid))
    assert any("已超时 1 件" in t and "工作队列" in t for t in pushed_to(app, staff))


def test_chart_falls_back_without_the_cjk_font_and_reaches_telegram_as_bytes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from types import SimpleNamespace

    from bot.channels.telegram import TelegramChannel
    from bot.stores import FileStore
    from handlers import chart

    monkeypatch.setattr(chart, "CJK_FONTS", (tmp_path / "missing.ttc",))
    panel = chart.Panel("By grid", [("Grid 1", (50.0, None, 100.0))])
    name = chart.draw([panel], ("Response", "Resolution", "Satisfaction"), "Test", tmp_path)
    assert name is not None and FILE_NAME.match(name)
    data = (tmp_path / name).read_bytes()
    assert data.startswith(b"\x89PNG")
    assert chart.draw([chart.Panel("empty", [])], ("a", "b", "c"), "t", tmp_path) is None

    channel = SimpleNamespace(files=FileStore(tmp_path))
    assert TelegramChannel._photo(channel, name) == data  # type: ignore[arg-type]
    assert TelegramChannel._photo(channel, "AgACAgIAAxkBAAIB") == "AgACAgIAAxkBAAIB"  # a Telegram file id


def test_staff_open_any_ticket_of_their_jurisdiction_by_its_number(
    app: App, owner: ChatUser, worker: ChatUser, staff: ChatUser, neighbour: ChatUser
) -> None:
    owner.report("电梯故障", "1栋电梯停在3楼不动了")
    worker.say("/tasks")  # held by the grid worker, not by the community staff
    staff.say("#1")
    assert "#1" in staff.text and "电梯停在3楼" in staff.text and "刘网格" in staff.text
    assert any("派" in label for label in staff.buttons())  # they may reassign it from here
    neighbour.say("#1")
    assert "没有找到工单 #1" in neighbour.text  # a resident who did not report it sees nothing
    tenant = ChatUser(app.service, "tenant-1", name="租户")
    tenant.say("/start DEMO-TENANT")  # a resident of the same building, without a staff role
    tenant.say("#1")
    assert "电梯停在3楼" not in tenant.text

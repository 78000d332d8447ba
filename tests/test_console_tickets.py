"""The console's 工单 list and 工作台: filters, keyset pages, jurisdiction, bulk actions, exports, saved
filters, the home page's counts, both languages."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import timedelta

import openpyxl
from sqlmodel import col, select

from bot.bootstrap import App
from bot.clock import FixedClock
from db import org, people
from db.models import Identity, Ticket, TicketEvent, WebMessage
from tests.support.chat import ChatUser, file_report
from tests.support.console import Desk, other_community_staff, sign_in

COMMUNITY = "铁西区/北沟街道/英雄社区"
HEPING_HOME = f"{COMMUNITY}/和平里小区/1号楼/1单元/101"  # 1号楼 is in 第二网格, which has no worker
ROW = re.compile(r'name="ticket" value="(\d+)"')
NEXT = re.compile(r'<a href="([^"]+)" rel="next">')


# --- helpers --------------------------------------------------------------------------------------


def numbers(page: str) -> list[int]:
    """The ticket numbers listed on a page, in order."""
    return [int(n) for n in ROW.findall(page)]


def all_pages(desk: Desk, path: str) -> list[int]:
    """Every ticket number of a list, following the next-page links."""
    found: list[int] = []
    while True:
        page = desk.get(path)
        assert page.status_code == 200, page.text
        found += numbers(page.text)
        link = NEXT.search(page.text)
        if link is None:
            return found
        path = link.group(1).replace("&amp;", "&")


def clone(app: App, code: int, count: int, **fields: object) -> list[int]:
    """Copies of a filed ticket written straight to the database (fast), with some fields changed."""
    with app.sessions() as session:
        source = session.get(Ticket, code)
        assert source is not None
        made = []
        for n in range(count):
            data = source.model_dump(exclude={"id"})
            data.update(fields)
            data["created_at"] = source.created_at + timedelta(minutes=n)
            copy = Ticket(**data)
            session.add(copy)
            made.append(copy)
        session.commit()
        return [t.id for t in made if t.id is not None]


def heping_owner(app: App) -> ChatUser:
    """An owner in 和平里小区 1号楼, whose tickets wait unassigned (the grid has no worker)."""
    with app.sessions() as session:
        home = org.find_home(session, HEPING_HOME)
        assert home is not None
        people.create_invite(
            session, "owner", app.clock.now(), home_id=home.id, code="HEPING-OWNER", uses=None
        )
        session.commit()
    user = ChatUser(app.service, "owner-heping", name="陈和平")
    user.say("/start HEPING-OWNER")
    return user


def code_of(text: str) -> int:
    found = re.search(r"#(\d+)", text)
    assert found, text
    return int(found.group(1))


def ticket(app: App, code: int) -> Ticket:
    with app.sessions() as session:
        found = session.get(Ticket, code)
        assert found is not None
        return found


def pushed_to(app: App, user: ChatUser) -> list[str]:
    """Texts pushed to a user's web chat after draining the outbox."""
    asyncio.run(app.dispatcher.drain())
    with app.sessions() as session:
        identity = session.exec(select(Identity).where(Identity.external_id == user.user_ref)).one()
        rows = session.exec(
            select(WebMessage).where(
                WebMessage.identity_id == identity.id, col(WebMessage.outgoing).is_(True)
            )
        ).all()
        return [m.body["text"] for m in rows]


# --- the list -------------------------------------------------------------------------------------


def test_filters_narrow_the_list_and_keyset_pages_have_no_gaps(
    app: App, staff: ChatUser, owner: ChatUser, worker: ChatUser
) -> None:
    first = code_of(file_report(owner, "楼道灯坏了，晚上看不见", "公共设施损坏"))
    water = clone(app, first, 40, category="water", description="水管漏水")
    closed = clone(app, first, 20, state="closed", description="已经修好")
    desk = sign_in(app, staff)

    everything = all_pages(desk, "/console/tickets")
    assert sorted(everything) == sorted([first, *water, *closed]) and len(set(everything)) == len(everything)
    assert everything == sorted(everything, reverse=True)  # newest first
    oldest = all_pages(desk, "/console/tickets?sort=oldest")
    assert oldest == sorted(everything)
    for sort in ("deadline", "updated"):
        paged = all_pages(desk, f"/console/tickets?sort={sort}")
        assert sorted(paged) == sorted(everything) and len(set(paged)) == len(paged)

    assert sorted(all_pages(desk, "/console/tickets?category=water")) == sorted(water)
    assert sorted(all_pages(desk, "/console/tickets?state=closed")) == sorted(closed)
    open_water = all_pages(desk, "/console/tickets?state=open&category=water&text=漏水")
    assert sorted(open_water) == sorted(water)
    assert numbers(desk.get(f"/console/tickets?number=%23{first}").text) == [first]
    assert numbers(desk.get("/console/tickets?text=100%25").text) == []  # % is taken literally
    page = desk.get("/console/tickets?state=open&category=water")
    assert "共 40 条" in page.text

    odd = desk.get("/console/tickets?state=nonsense&compound=abc&created_from=2026-13-45&after=zzz")
    assert odd.status_code == 200
    assert "无法识别" in odd.text and len(numbers(odd.text)) == 50


def test_the_list_escapes_text_shows_no_reporter_and_keeps_to_the_jurisdiction(
    app: App, staff: ChatUser, owner: ChatUser, worker: ChatUser
) -> None:
    code = code_of(file_report(owner, "<script>alert(1)</script> 门口积水", "其他"))
    page = sign_in(app, staff).get("/console/tickets").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "王芳" not in page  # the reporter is on no row for anyone

    # the property company of the compound sees the ticket, never the reporter
    with app.sessions() as session:
        compound = org.find_node(session, f"{COMMUNITY}/阳光花园")
        assert compound is not None
        invite = people.create_invite(session, "property_staff", app.clock.now(), node_id=compound.id)
        session.commit()
    company = ChatUser(app.service, "property-1", name="物业小赵")
    company.say(f"/start {invite.code}")
    desk = sign_in(app, company)
    listed = desk.get("/console/tickets").text
    assert numbers(listed) == [code] and "王芳" not in listed
    assert "王芳" not in desk.get("/console/tickets/export.csv").content.decode("utf-8-sig")

    # another community's staff sees none of it and cannot act on it
    other = sign_in(app, other_community_staff(app))
    assert numbers(other.get("/console/tickets").text) == []
    assert numbers(other.get(f"/console/tickets?number={code}").text) == []
    exported = other.get("/console/tickets/export.csv").content.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(exported)))) == 1  # the header only
    for action, extra in (("assign", {"worker": "3"}), ("duplicate", {"original": str(code)})):
        refused = other.post("/console/tickets/bulk", {"action": action, "ticket": [str(code)], **extra})
        assert refused.status_code == 404
    assert ticket(app, code).state == "assigned"


# --- bulk actions ---------------------------------------------------------------------------------


def test_bulk_assign_reaches_the_worker_and_bulk_duplicate_closes_copies(
    app: App, staff: ChatUser, worker: ChatUser
) -> None:
    heping = heping_owner(app)
    one = code_of(file_report(heping, "楼下商铺半夜装修，电钻声不断", "噪音扰民"))
    two = code_of(file_report(heping, "单元门禁坏了", "公共设施损坏"))
    done = clone(app, one, 1, state="closed", holder_id=None)[0]
    assert ticket(app, one).holder_id is None
    desk = sign_in(app, staff)
    page = desk.get("/console/tickets?queue=unassigned")
    assert set(numbers(page.text)) >= {one, two}
    worker_id = int(re.search(r'<option value="(\d+)">刘网格</option>', page.text).group(1))  # type: ignore[union-attr]

    answer = desk.post(
        "/console/tickets/bulk",
        {"action": "assign", "worker": str(worker_id), "ticket": [str(one), str(two), str(done)]},
    )
    assert answer.status_code == 303
    shown = desk.get(answer.headers["location"]).text
    assert "批量指派：成功 2 条" in shown and f"#{done}：已办结或关闭" in shown
    assert ticket(app, one).holder_id == worker_id and ticket(app, two).state == "assigned"
    cards = [t for t in pushed_to(app, worker) if f"#{one}" in t or f"#{two}" in t]
    assert len(cards) == 2 and all("新任务" in c for c in cards)
    # the text filter finds words in timeline notes too (the assignment names the worker)
    assert sorted(numbers(desk.get("/console/tickets?text=刘网格").text)) == sorted([one, two])

    # close two copies as duplicates of the first
    copies = clone(app, one, 2)
    answer = desk.post(
        "/console/tickets/bulk",
        {"action": "duplicate", "original": f"#{one}", "ticket": [str(c) for c in copies]},
    )
    assert "批量关闭为重复工单：成功 2 条" in desk.get(answer.headers["location"]).text
    assert [ticket(app, c).state for c in copies] == ["duplicate", "duplicate"]
    assert all(ticket(app, c).duplicate_of == one for c in copies)
    assert ticket(app, one).state == "assigned"


# --- exports --------------------------------------------------------------------------------------


def test_csv_and_xlsx_exports_hold_the_rows_with_formulas_as_text(
    app: App, staff: ChatUser, owner: ChatUser, worker: ChatUser
) -> None:
    code = code_of(file_report(owner, "普通的报修", "公共设施损坏"))
    formula = '=HYPERLINK("http://evil.example","点我")'
    evil = clone(app, code, 1, description=formula, rating_comment="@SUM(1)")[0]
    desk = sign_in(app, staff)

    got = desk.get("/console/tickets/export.csv")
    assert got.status_code == 200 and got.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert rows[0][0] == "工单号" and sorted(int(r[0]) for r in rows[1:]) == [code, evil]
    bad = next(r for r in rows[1:] if int(r[0]) == evil)
    assert bad[-1].startswith("'=HYPERLINK") and bad[-2] == "'@SUM(1)"
    assert "刘网格" in next(r for r in rows[1:] if int(r[0]) == code)[14]  # the holder chain

    got = desk.get("/console/tickets/export.xlsx")
    assert got.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(got.content)).active
    assert sheet is not None
    cells = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert set(cells) == {code, evil}
    description = cells[evil][-1]
    assert description.data_type == "s" and str(description.value).startswith("'=HYPERLINK")


# --- saved filters --------------------------------------------------------------------------------


def test_save_list_open_and_delete_a_filter(app: App, staff: ChatUser) -> None:
    desk = sign_in(app, staff)
    saved = desk.post(
        "/console/tickets/filters", {"name": "超时的 <b>漏水</b>", "query": "category=water&overdue=1&junk=1"}
    )
    assert saved.status_code == 303
    page = desk.get("/console/tickets").text
    assert "超时的 &lt;b&gt;漏水&lt;/b&gt;" in page
    assert 'href="/console/tickets?category=water&amp;overdue=1"' in page
    found = re.search(r'action="/console/tickets/filters/(\d+)/delete"', page)
    assert found
    other = sign_in(app, other_community_staff(app))
    assert other.post(f"/console/tickets/filters/{found.group(1)}/delete").status_code == 404
    assert desk.post(f"/console/tickets/filters/{found.group(1)}/delete").status_code == 303
    assert "还没有保存的筛选" in desk.get("/console/tickets").text


# --- 工作台 ---------------------------------------------------------------------------------------


def tile(page: str, queue: str) -> str:
    found = re.search(rf'data-queue="{queue}"><span class="n">([^<]+)</span>', page)
    assert found, page
    return found.group(1)


def test_home_counts_match_the_list_and_both_languages_render(
    app: App, clock: FixedClock, staff: ChatUser, owner: ChatUser, worker: ChatUser
) -> None:
    heping = heping_owner(app)
    file_report(heping, "楼下商铺半夜装修", "噪音扰民")
    code = code_of(file_report(owner, "楼道灯坏了", "公共设施损坏"))
    due = ticket(app, code).clock_due_at
    assert due is not None
    desk = sign_in(app, staff)
    home = desk.get("/console").text
    assert tile(home, "unassigned") == "1" and tile(home, "overdue") == "0"
    assert len(numbers(desk.get("/console/tickets?queue=unassigned").text)) == 1
    assert "响应率" in home and "满意率" in home

    clock.advance(seconds=int((due - clock.now()).total_seconds()) + 60)
    desk = sign_in(app, staff)  # the idle session ended meanwhile
    home = desk.get("/console").text
    assert tile(home, "overdue") == "2"
    assert sorted(numbers(desk.get("/console/tickets?queue=overdue").text)) == sorted(
        numbers(desk.get("/console/tickets?overdue=1").text)
    )

    # a ticket that climbed to the community's level is escalated to its staff
    with app.sessions() as session:
        climbed = session.get(Ticket, code)
        community = org.find_node(session, COMMUNITY)
        assert climbed is not None and community is not None
        climbed.level, climbed.holder_node_id = "community", community.id
        session.add(TicketEvent(ticket_id=code, at=clock.now(), actor_role="system", kind="escalated"))
        session.commit()
    home = desk.get("/console").text
    assert tile(home, "escalated") == "1"
    assert numbers(desk.get("/console/tickets?queue=escalated").text) == [code]

    assert desk.post("/console/lang", {"locale": "en"}).status_code == 303
    home = desk.get("/console").text
    assert "My queues" in home and "Response rate" in home
    listing = desk.get("/console/tickets").text
    assert "Tickets" in listing and "Export Excel" in listing and "Nearest deadline" in listing

    # an owners' committee member has no queue: their home leads to the polls
    member = ChatUser(app.service, "committee-1", name="赵委员")
    member.say("/start DEMO-COMMITTEE")
    committee = sign_in(app, member)
    home = committee.get("/console").text
    assert 'href="/console/polls"' in home and "data-queue" not in home
    assert committee.get("/console/tickets").status_code == 403

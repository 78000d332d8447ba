"""/accounts walked in chat: a property clerk drafts a quarter's statement line by line and publishes it;
a resident lists, opens and asks about a line (a 物业收费 ticket linked to it), and reads the answer under
the line; the clerk corrects the statement and both versions stay visible. Bad amounts, another
compound's statement, forged buttons and detours change nothing and lose nothing."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import col, func, select

from bot.bootstrap import App
from bot.clock import FixedClock
from core import tickets as ticket_use
from core.actions import Accounts
from db.ledger.tables import LedgerLine, LedgerQuestion, LedgerStatement
from db.models import Ticket
from db.rows import id_of
from tests.support import accounts
from tests.support.chat import ChatUser, person_of
from tests.support.ledger import PEACE, actor_of, expense, income, node_id, work
from tests.support.wechat_app import wechat_harness


def clerk_of(app: App) -> ChatUser:
    """A clerk of the demo company that serves 阳光花园."""
    user = ChatUser(app.service, "clerk-1", name="赵会计")
    user.say("/start DEMO-PROPERTY")
    return user


def statements(app: App) -> list[LedgerStatement]:
    """Every statement stored, oldest first."""
    with app.sessions() as session:
        return list(session.exec(select(LedgerStatement).order_by(col(LedgerStatement.id))).all())


def line_count(app: App) -> int:
    """How many lines are stored."""
    with app.sessions() as session:
        return session.exec(select(func.count()).select_from(LedgerLine)).one()


def publish_in_chat(clerk: ChatUser) -> None:
    """The clerk files 2026Q3 with two lines (one with a voucher photo) and publishes it."""
    clerk.say("/accounts")
    clerk.press("新建收支公示")
    assert "2026年第3季度" in clerk.text  # the last finished quarter is offered
    clerk.press("2026年第3季度")
    clerk.press("收 · 物业服务费")
    assert "金额是多少元" in clerk.text
    clerk.say("128,000.50")
    clerk.say("7-9月物业费实收")
    clerk.press("跳过")
    assert "已记下" in clerk.text and "¥128,000.50" in clerk.text
    clerk.press("再加一项")
    clerk.press("支 · 公共设施维修")
    clerk.say("8000")
    clerk.say("电梯维保")
    clerk.photo("invoice-1")
    assert "收入合计 ¥128,000.50" in clerk.text and "支出合计 ¥8,000.00" in clerk.text
    clerk.press("发布")
    assert "已发布" in clerk.text, clerk.text


def test_a_clerk_publishes_and_a_resident_reads_asks_and_sees_the_answer(app: App, owner: ChatUser) -> None:
    clerk = clerk_of(app)
    publish_in_chat(clerk)
    [filed] = statements(app)
    assert (filed.state, filed.version, filed.filer) == ("published", 1, "company")
    assert "/accounts/" in clerk.text and "?t=" in clerk.text  # the page's signed link

    owner.say("/accounts")
    assert "2026年第3季度" in owner.text and "阳光物业" in owner.text
    assert "收入 ¥128,000.50" in owner.text
    owner.press("2026年第3季度")
    assert "收入合计 ¥128,000.50" in owner.text and "本期收支差额 ¥120,000.50" in owner.text
    assert "电梯维保" in owner.text and "📎" in owner.text
    owner.press("对这一项有疑问")
    assert "回复这一项的序号" in owner.text
    owner.say("9")  # no such line: asked again, nothing filed
    assert "没有这一项" in owner.text
    owner.say("2")
    assert "您对这一项有什么疑问" in owner.text and "电梯维保" in owner.text
    owner.say("电梯维保为什么要8000元？")
    assert "#" in owner.text and "已提交" in owner.text
    with app.sessions() as session:
        ticket = session.exec(select(Ticket)).one()
        question = session.exec(select(LedgerQuestion)).one()
        assert ticket.category == "fees" and question.ticket_id == ticket.id
        ticket_id = id_of(ticket)

    # The clerk who filed the statement holds the ticket and answers it; the answer is shown under the
    # line to every resident, with the question.
    clerk_actor = actor_of(app, person_of(app.sessions, clerk))
    with work(app) as unit:
        ticket_use.accept(unit, clerk_actor, ticket_id)
    with work(app) as unit:
        ticket_use.resolve(
            unit,
            clerk_actor,
            ticket_id,
            "no_action_needed",
            "全年电梯维保合同8000元/季度，发票已附。",
            [],
            False,
        )
    owner.say("/accounts")
    owner.press("2026年第3季度")
    assert "全年电梯维保合同8000元/季度" in owner.text and "电梯维保为什么要8000元" in owner.text


def test_a_bad_amount_is_refused_and_nothing_is_saved(app: App) -> None:
    clerk = clerk_of(app)
    clerk.say("/accounts")
    clerk.press("新建收支公示")
    clerk.press("2026年第3季度")
    clerk.press("收 · 停车费")
    for typed in ("一万", "-500", "12.345", "0"):
        clerk.say(typed)
        assert "不是一个金额" in clerk.text and "还没有保存" in clerk.text
        assert clerk.last[0].keeps_input
    assert line_count(app) == 0 and statements(app) == []
    clerk.say("５００元")  # full-width digits as phones type them
    assert "说明" in clerk.text


def test_a_detour_keeps_the_draft(app: App) -> None:
    clerk = clerk_of(app)
    clerk.say("/accounts")
    clerk.press("新建收支公示")
    clerk.press("2026年第3季度")
    clerk.press("收 · 停车费")
    clerk.say("3600")
    clerk.press("跳过")
    clerk.press("跳过")
    clerk.say("/help")  # read on the way: still in the draft
    clerk.say("/queue")  # a detour out of it: the draft is parked, with a button back
    assert "已保存" in clerk.text or "继续" in " ".join(clerk.buttons())
    clerk.press("继续")
    assert "停车费 ¥3,600.00" in clerk.text
    clerk.say("/accounts")  # its own command offers the parked draft too
    clerk.press("继续")
    clerk.press("发布")
    assert "已发布" in clerk.text


def test_a_correction_is_a_new_version_and_both_stay_visible(app: App, owner: ChatUser) -> None:
    clerk = clerk_of(app)
    publish_in_chat(clerk)
    clerk.say("/accounts")
    clerk.press("2026年第3季度")
    clerk.press("更正")
    assert "改第2项" in clerk.buttons()
    clerk.press("改第2项")
    clerk.say("8800")
    clerk.press("提交更正")
    assert "更正说明" in clerk.text
    clerk.say("第2项电梯维保少算了800元")
    assert "第2版" in clerk.text
    first, second = statements(app)
    assert (first.state, second.state, second.version, second.supersedes) == (
        "published",
        "published",
        2,
        first.id,
    )
    owner.say("/accounts")
    owner.press("2026年第3季度")
    assert "第2版" in owner.text and "少算了800元" in owner.text and "本次更正" in owner.text
    owner.press("历次版本")
    assert "第1版" in owner.text and "第2版" in owner.text
    owner.press("第1版")
    assert "已被更正" in owner.text and "¥8,000.00" in owner.text


def test_another_compounds_statement_is_refused(app: App, owner: ChatUser) -> None:
    statement_id = accounts.published(app, PEACE, "和平物业")
    with app.sessions() as session:
        lines = select(LedgerLine.id).where(LedgerLine.statement_id == statement_id)
        line_id = session.exec(lines).first()
    assert line_id is not None
    owner.say("/accounts")
    assert "和平里" not in owner.text
    for press in (
        Accounts("o", statement=statement_id),
        Accounts("qs", statement=statement_id),
        Accounts("q", line=line_id),
        Accounts("r", statement=statement_id),
        Accounts("m", statement=statement_id, start=1),
    ):
        owner.data(press.encode())
        assert "找不到这份账目" in owner.text, press
        assert "¥500.00" not in owner.text
    with app.sessions() as session:
        assert session.exec(select(func.count()).select_from(Ticket)).one() == 0
    # The company serving 阳光花园 does not see 和平里小区's accounts either.
    clerk = clerk_of(app)
    clerk.data(Accounts("o", statement=statement_id).encode())
    assert "找不到这份账目" in clerk.text
    clerk.data(Accounts("c", compound=node_id(app, PEACE), filer="company").encode())
    assert statements(app)[-1].compound_id == node_id(app, PEACE) and len(statements(app)) == 1


def test_staff_who_only_see_accounts_cannot_file(app: App, staff: ChatUser, owner: ChatUser) -> None:
    publish_in_chat(clerk_of(app))
    staff.say("/accounts")
    assert "2026年第3季度" in staff.text and "新建收支公示" not in staff.buttons()
    staff.press("2026年第3季度")
    assert "更正" not in " ".join(staff.buttons()) and "对这一项有疑问" not in " ".join(staff.buttons())
    staff.data(Accounts("n").encode())
    assert "只有为本小区服务的物业企业" in staff.text
    staff.data(Accounts("r", statement=statements(app)[0].id or 0).encode())
    assert "没有这项权限" in staff.text or "找不到" in staff.text
    assert len(statements(app)) == 1


def test_the_committee_files_the_maintenance_fund_with_its_project(app: App, owner: ChatUser) -> None:
    committee = ChatUser(app.service, "cmte-1", name="业委会老周")
    committee.say("/start DEMO-COMMITTEE")
    committee.say("/accounts")
    committee.press("新建收支公示")
    committee.say("2026q3")  # typed instead of pressed
    assert "维修资金使用" in " ".join(committee.buttons()) and "物业服务费" not in " ".join(
        committee.buttons()
    )
    committee.press("支 · 维修资金使用")
    committee.say("65000")
    assert "哪个项目" in committee.text
    committee.say("3栋电梯更换")
    committee.press("跳过")
    committee.press("跳过")
    assert "项目：3栋电梯更换" in committee.text
    committee.press("发布")
    assert "已发布" in committee.text, committee.text
    [filed] = statements(app)
    assert filed.filer == "committee"
    owner.say("/accounts")
    owner.press("2026年第3季度")
    assert "业主委员会" in owner.text and "项目：3栋电梯更换" in owner.text and "维修资金余额" in owner.text


def test_a_bad_period_typed_is_asked_again(app: App) -> None:
    clerk = clerk_of(app)
    clerk.say("/accounts")
    clerk.press("新建收支公示")
    clerk.say("下个季度")
    assert "不是一个期间" in clerk.text and clerk.last[0].keeps_input
    assert statements(app) == []


def test_a_question_left_for_a_detour_comes_back(app: App, owner: ChatUser) -> None:
    publish_in_chat(clerk_of(app))
    owner.say("/accounts")
    owner.press("2026年第3季度")
    owner.press("对这一项有疑问")
    owner.press("1. 物业服务费")
    owner.say("/my")  # a detour out of the question
    owner.press("继续")
    assert "您对这一项有什么疑问" in owner.text and "物业服务费" in owner.text
    owner.say("物业费收缴率是多少？")
    assert "已提交" in owner.text


def test_a_long_statement_shows_its_first_lines_then_more(app: App, owner: ChatUser) -> None:
    lines = tuple(expense("repairs", 10000 + n, f"维修{n}") for n in range(1, 13))
    accounts.published(app, lines=(income("service_fee", 500000), *lines))
    owner.say("/accounts")
    owner.press("2026年第3季度")
    assert "维修7" in owner.text and "维修8" not in owner.text and "还有 5 项" in owner.text
    assert "/accounts/" in owner.text  # the whole statement on its page
    owner.press("看更多")
    assert "维修8" in owner.text and "维修12" in owner.text and "全部 13 项" in owner.text


def test_the_accounts_in_english(app: App, owner: ChatUser) -> None:
    clerk = clerk_of(app)
    for user in (clerk, owner):
        user.say("/lang")
        user.press("English")
    clerk.say("/accounts")
    clerk.press("New statement")
    assert "Q3 2026" in clerk.text
    clerk.press("Q3 2026")
    clerk.press("In · Parking fees")
    clerk.say("abc")
    assert "is not an amount" in clerk.text
    clerk.say("1200.5")
    clerk.press("Skip")
    clerk.press("Skip")
    assert "Total income ¥1,200.50" in clerk.text
    clerk.press("Publish")
    assert "Published" in clerk.text
    owner.say("/accounts")
    owner.press("Q3 2026")
    assert "Total income ¥1,200.50" in owner.text and "Parking fees" in owner.text
    owner.press("question about a line")
    owner.say("1")
    owner.say("Where are the parking fees kept?")
    assert "ticket #" in owner.text


def test_publish_pressed_twice_files_once(app: App) -> None:
    clerk = clerk_of(app)
    clerk.say("/accounts")
    clerk.press("新建收支公示")
    clerk.press("2026年第3季度")
    clerk.press("收 · 停车费")
    clerk.say("3600")
    clerk.press("跳过")
    clerk.press("跳过")
    publish = next(data for m in clerk.last for row in m.buttons for text, data in row if "发布" in text)
    clerk.data(publish)
    assert "已发布" in clerk.text
    clerk.data(publish)  # a double tap, or the old button pressed again
    assert "已发布" not in clerk.text
    assert len(statements(app)) == 1


async def test_on_wechat_a_line_is_picked_by_its_number(
    sqlite_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    wx = wechat_harness(sqlite_url, tmp_path, clock)
    try:
        openid = "o_owner_accounts_00000000000001"
        user = await wx.joined(openid)
        lines = (income("service_fee", 500000, "物业费"), expense("repairs", 80000, "电梯维保"))
        accounts.published(wx.app, lines=lines)
        await wx.post(user.click("cmd:/accounts"))
        await wx.post(wx.tap(user, "2026年第3季度"))
        assert "收入合计 ¥5,000.00" in wx.last(openid, 2)
        await wx.post(wx.tap(user, "对这一项有疑问"))
        await wx.post(user.text("2"))  # the second line, by its number
        assert "电梯维保" in wx.last(openid, 2) and "您对这一项有什么疑问" in wx.last(openid, 2)
        await wx.post(user.text("维保合同能公开吗？"))
        assert "已提交" in wx.last(openid, 2)
        with wx.app.sessions() as session:
            question = session.exec(select(LedgerQuestion)).one()
            line = session.get(LedgerLine, question.line_id)
            assert line is not None and line.category == "repairs"
    finally:
        wx.app.engine.dispose()

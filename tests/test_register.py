"""Self-registration as staff need it: a name, a checked phone and, where the compound wants it, the
ownership certificate's photo before anyone is asked; staff see who applies (masked phone, the home and
its area, who else lives there, the photo) and cannot approve an owner whose certificate is missing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import col, select
from telegram import Update

from bot.bootstrap import App
from bot.channels.telegram import TelegramChannel, to_inbound
from bot.clock import FixedClock
from core import actions
from core.people import mobile_number, shared_number
from db import org
from db.models import Identity, OrgNode, Person, Residency, Ticket, WebMessage
from handlers.types import Rendered
from tests.conftest import make_app
from tests.support.botapi import BotApi, InProcessRequest, TgUser
from tests.support.chat import ChatUser, file_report
from tests.test_telegram_adapter import TOKEN, Telegram
from tests.test_webchat import Browser, png_bytes

COMPOUND = "阳光花园"
CERTIFICATE = "cErTiFiCaTe0123456789page.jpg"  # shaped like the names the web chat gives uploads


def walk_to_kind(user: ChatUser, building: str = "2栋", entrance: str = "1单元", home: str = "301") -> None:
    """没有邀请码 → compound → building → entrance → home, up to 业主/租户."""
    user.say("/start")
    user.press("选择住址")
    user.press(COMPOUND)
    user.press(building)
    user.press(entrance)
    user.press(home)
    assert "业主还是租户" in user.text


def residencies(app: App, user: ChatUser) -> list[Residency]:
    with app.sessions() as session:
        person_id = session.exec(
            select(Identity.person_id).where(Identity.external_id == user.user_ref)
        ).one()
        return list(session.exec(select(Residency).where(Residency.person_id == person_id)).all())


def person(app: App, user: ChatUser) -> Person:
    with app.sessions() as session:
        person_id = session.exec(
            select(Identity.person_id).where(Identity.external_id == user.user_ref)
        ).one()
        found = session.get(Person, person_id)
        assert found is not None
        return found


def require_document(app: App, compound: str = COMPOUND) -> None:
    with app.sessions() as session:
        node = session.exec(select(OrgNode).where(OrgNode.name == compound)).one()
        node.owner_document = True
        session.add(node)
        session.commit()


def pushed_to(app: App, user: ChatUser) -> list[dict[str, object]]:
    asyncio.run(app.dispatcher.drain())
    with app.sessions() as session:
        identity = session.exec(select(Identity).where(Identity.external_id == user.user_ref)).one()
        rows = session.exec(
            select(WebMessage)
            .where(WebMessage.identity_id == identity.id, col(WebMessage.outgoing))
            .order_by(col(WebMessage.id))
        ).all()
    return [row.body for row in rows]


def request_of(staff: ChatUser, name: str) -> Rendered:
    """The /pending message about one applicant."""
    staff.say("/pending")
    return next(m for m in staff.last if name in m.text and m.buttons)


# --- the resident's side ------------------------------------------------------------------------------


def test_web_registration_asks_name_then_phone_and_only_then_tells_staff(app: App, staff: ChatUser) -> None:
    resident = ChatUser(app.service, "walk-in", name="")  # the web page knows no name
    walk_to_kind(resident)
    resident.press("租户")
    assert "姓名" in resident.text and not any("就用" in b for b in resident.buttons())
    assert "取消" in resident.buttons()
    assert residencies(app, resident) == []  # nothing asked of staff yet
    resident.say("赵六")
    assert "手机号" in resident.text and not resident.last[-1].ask_contact
    resident.say("+86 139-0000-1111")
    assert "已提交登记申请" in resident.text and "2栋 1单元 301" in resident.text
    [residency] = residencies(app, resident)
    assert residency.status == "pending" and residency.kind == "tenant"
    kept = person(app, resident)
    assert (kept.name, kept.phone) == ("赵六", "13900001111")
    assert any("赵六" in str(m["text"]) and "139****1111" in str(m["text"]) for m in pushed_to(app, staff))


@pytest.mark.parametrize("typed", ["12345", "1390000111", "23900001111", "电话是多少", "139000011112"])
def test_a_wrong_phone_is_refused_keeps_the_text_and_changes_nothing(app: App, typed: str) -> None:
    resident = ChatUser(app.service, "walk-in", name="")
    walk_to_kind(resident)
    resident.press("业主")
    resident.say("钱七")
    resident.say(typed)
    [reply] = resident.last
    assert "号码不对" in reply.text and reply.keeps_input
    assert residencies(app, resident) == [] and person(app, resident).phone == ""
    resident.say("13900002222")  # still at the phone step: the right number goes through
    assert "已提交登记申请" in resident.text


def test_a_name_that_is_not_one_is_refused(app: App) -> None:
    resident = ChatUser(app.service, "walk-in", name="")
    walk_to_kind(resident)
    resident.press("业主")
    resident.say("12345")
    assert "不像一个姓名" in resident.text and resident.last[-1].keeps_input
    resident.say("孙八")
    assert "手机号" in resident.text


def test_phone_numbers_are_read_as_people_write_them() -> None:
    assert mobile_number("138 1234 5678") == "13812345678"
    assert mobile_number("0086-138-1234-5678") == "13812345678"
    assert mobile_number("（138）12345678") == "13812345678"
    assert mobile_number("12812345678") is None and mobile_number("1381234567") is None
    assert shared_number("+8613812345678") == "13812345678"
    assert shared_number("+44 7700 900123") == "+447700900123"


def test_telegram_offers_the_platform_name_and_the_contact_button(app: App) -> None:
    resident = ChatUser(app.service, "7001", channel="telegram", name="Zhou Jiu")
    walk_to_kind(resident)
    resident.press("业主")
    assert "就用「Zhou Jiu」" in resident.buttons()
    resident.press("就用")
    [ask] = resident.last
    assert ask.ask_contact and ask.contact_label == "📱 发送我的手机号" and "发送我的手机号" in ask.text
    resident.contact("+86 138 0013 8000")
    assert "已提交登记申请" in resident.text
    kept = person(app, resident)
    assert (kept.name, kept.phone) == ("Zhou Jiu", "13800138000")


def test_a_detour_keeps_the_answers_given(app: App) -> None:
    resident = ChatUser(app.service, "walk-in", name="")
    walk_to_kind(resident)
    resident.press("租户")
    resident.say("吴十")
    resident.say("/help")  # a detour
    resident.say("/start")  # back: the registration goes on where it stopped
    assert "接着刚才的住户登记" in resident.text and "吴十" in resident.text and "手机号" in resident.text
    resident.say("13900003333")
    assert "已提交登记申请" in resident.text


def test_cancel_sends_nothing_to_staff(app: App, staff: ChatUser) -> None:
    resident = ChatUser(app.service, "walk-in", name="")
    walk_to_kind(resident)
    resident.press("业主")
    resident.say("郑一")
    resident.press("取消")
    assert "已取消登记" in resident.text
    resident.say("13900004444")  # typed after cancelling: not a phone step any more
    assert residencies(app, resident) == []
    staff.say("/pending")
    assert "没有待审核" in staff.text


def test_owner_in_a_compound_that_wants_a_certificate_sends_its_photo(app: App, staff: ChatUser) -> None:
    require_document(app)
    resident = ChatUser(app.service, "walk-in", name="")
    walk_to_kind(resident)
    resident.press("业主")
    resident.say("冯二")
    resident.say("13900005555")
    assert "房产证" in resident.text and "取消" in resident.buttons()
    assert residencies(app, resident) == []
    resident.say("我没有照片")
    assert "还差一张照片" in resident.text and residencies(app, resident) == []
    resident.photo(CERTIFICATE)
    assert "已提交登记申请" in resident.text
    [residency] = residencies(app, resident)
    assert (residency.document_channel, residency.document_ref) == ("web", CERTIFICATE)

    request = request_of(staff, "冯二")
    assert [p.ref for p in request.photos] == [CERTIFICATE] and "房产证照片：已附" in request.text
    pushed = [m for m in pushed_to(app, staff) if "冯二" in str(m["text"])]
    assert pushed and pushed[0]["photos"] == [CERTIFICATE]
    staff.data(request.buttons[0][0][1])
    assert "已通过" in staff.text


def test_a_tenant_sends_no_certificate(app: App) -> None:
    require_document(app)
    resident = ChatUser(app.service, "walk-in", name="")
    walk_to_kind(resident)
    resident.press("租户")
    resident.say("陈三")
    resident.say("13900006666")
    assert "已提交登记申请" in resident.text


# --- the staff's side ---------------------------------------------------------------------------------


def test_pending_shows_name_masked_phone_area_and_who_else_lives_there(
    app: App, staff: ChatUser, owner: ChatUser
) -> None:
    resident = ChatUser(app.service, "walk-in", name="")
    walk_to_kind(resident, "1栋", "1单元", "101")  # the demo owner 王芳 lives here
    resident.press("租户")
    resident.say("褚四")
    resident.say("13912345678")
    request = request_of(staff, "褚四")
    assert "139****5678" in request.text and "13912345678" not in request.text
    assert "阳光花园 1栋 1单元 101" in request.text and "76.8 平方米" in request.text
    assert "王芳（业主，已核实）" in request.text and "租户" in request.text
    assert [label for label, _ in request.buttons[0]] == ["通过", "驳回"]
    pushed = [m for m in pushed_to(app, staff) if "褚四" in str(m["text"])]
    assert (
        pushed
        and "139****5678" in str(pushed[0]["text"])
        and "王芳（业主，已核实）" in str(pushed[0]["text"])
    )


def test_approving_an_owner_without_the_required_certificate_is_refused(app: App, staff: ChatUser) -> None:
    resident = ChatUser(app.service, "walk-in", name="")
    walk_to_kind(resident)
    resident.press("业主")
    resident.say("卫五")
    resident.say("13900007777")  # no certificate asked: the compound did not want one then
    require_document(app)  # … and now it does
    request = request_of(staff, "卫五")
    assert "通过（缺房产证照片）" in [label for label, _ in request.buttons[0]]
    assert "还没有提供" in request.text
    staff.data(request.buttons[0][0][1])
    assert "不能通过" in staff.text
    [residency] = residencies(app, resident)
    assert residency.status == "pending"
    staff.data(request.buttons[0][1][1])  # rejecting stays possible
    assert "已驳回" in staff.text


def test_a_grid_workers_task_card_shows_the_self_registered_reporters_masked_phone(
    app: App, staff: ChatUser, worker: ChatUser
) -> None:
    resident = ChatUser(app.service, "walk-in", name="")
    walk_to_kind(resident, "1栋", "1单元", "202")
    resident.press("业主")
    resident.say("蒋六")
    resident.say("137 0000 8888")
    staff.data(request_of(staff, "蒋六").buttons[0][0][1])
    asyncio.run(app.dispatcher.drain())
    resident.report("停水/漏水", "厨房水管漏水")
    with app.sessions() as session:
        ticket = session.exec(select(Ticket).order_by(col(Ticket.id).desc())).first()
    assert ticket is not None
    worker.say(f"#{ticket.id}")
    assert "137****8888" in worker.text and "13700008888" not in worker.text


# --- the organisation file ----------------------------------------------------------------------------

ORG = """district: 区
streets:
  - name: 街道
    communities:
      - name: 社区
        compounds:
          - name: 要证小区
            owner_document: {flag}
            buildings:
              - name: 1栋
                entrances:
                  - name: 1单元
                    homes:
                      - {{number: "101", area: 80}}
          - name: 不要证小区
            buildings:
              - name: 1栋
                entrances:
                  - name: 1单元
                    homes:
                      - {{number: "101", area: 80}}
"""


def test_org_file_sets_owner_document_per_compound_and_a_bad_value_changes_nothing(
    app: App, tmp_path: Path
) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(ORG.format(flag="true"), encoding="utf-8")
    with app.sessions() as session:
        org.import_org_file(session, path)
        session.commit()
    with app.sessions() as session:
        flags = {
            n.name: n.owner_document for n in session.exec(select(OrgNode).where(OrgNode.kind == "compound"))
        }
    assert flags["要证小区"] is True and flags["不要证小区"] is False

    path.write_text(ORG.format(flag="maybe").replace('"101"', '"102"'), encoding="utf-8")
    with app.sessions() as session, pytest.raises(org.ImportError_, match="owner_document"):
        org.import_org_file(session, path)
    with app.sessions() as session:
        node = session.exec(select(OrgNode).where(OrgNode.name == "要证小区")).one()
        assert node.owner_document is True  # all or nothing: the bad file changed no flag and no home
        assert org.find_home(session, "区/街道/社区/要证小区/1栋/1单元/102") is None


def test_forged_registration_buttons_are_refused(app: App) -> None:
    resident = ChatUser(app.service, "walk-in", name="Someone")
    resident.data(actions.Join("n").encode())  # not at the name step
    assert "失效" in resident.text
    assert residencies(app, resident) == []


# --- the Telegram adapter: the contact button, offline against the Bot API double ----------------------


@pytest.fixture
async def tg(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[Telegram]:
    """The assembled app with its Telegram channel on the in-memory Bot API double."""
    api = BotApi(TOKEN)
    app = make_app(
        sqlite_url, tmp_path, clock, telegram_request=InProcessRequest(api), TELEGRAM_BOT_TOKEN=TOKEN
    )
    channel = app.channels["telegram"]
    assert isinstance(channel, TelegramChannel)
    await channel.application.initialize()
    yield Telegram(app, channel, api)
    await channel.application.shutdown()
    app.engine.dispose()


async def tg_to_phone_step(tg: Telegram, user: TgUser) -> None:
    await tg.send(user.start())
    for label in ("选择住址", COMPOUND, "2栋", "1单元", "301", "业主"):
        await tg.send(user.press(label))
    await tg.send(user.press("就用"))


def test_the_contact_is_taken_only_when_it_is_the_senders_own() -> None:
    api = BotApi(TOKEN)
    user = api.user(601, "孔九")
    own = to_inbound(Update.de_json(user.contact("+8613800138000"), None))
    assert own is not None and own.contact_phone == "+8613800138000" and not own.unsupported
    for forged in (user.contact("13911112222", user_id=602), user.contact("13911112222", user_id=0)):
        inbound = to_inbound(Update.de_json(forged, None))
        assert inbound is not None and inbound.contact_phone == ""
        assert [a.kind for a in inbound.attachments] == ["contact"] and "13911112222" not in repr(inbound)


async def test_telegram_shows_a_share_phone_keyboard_and_refuses_someone_elses_contact(tg: Telegram) -> None:
    user = tg.api.user(601, "孔九")
    await tg_to_phone_step(tg, user)
    keyboards = [c.params.get("reply_markup") or {} for c in tg.api.calls_to("sendMessage", user.id)[-2:]]
    [button] = keyboards[-1]["keyboard"][0]
    assert button == {"text": "📱 发送我的手机号", "request_contact": True}
    assert keyboards[-1]["one_time_keyboard"] is True
    assert tg.channel.messages_for(Rendered("?", ((("取消", "j:x"),),), ask_contact=True)) == 2  # counted
    assert tg.channel.messages_for(Rendered("?", ask_contact=True)) == 1  # the keyboard rides on the text
    assert any(label == "取消" for label, _ in [b for k in keyboards for b in _inline(k)])

    await tg.send(user.contact("13911112222", user_id=602))  # a friend's card, forwarded
    assert "只能发送您本人的手机号" in "\n".join(tg.api.texts(user.id)[-3:])
    with tg.app.sessions() as session:
        assert session.exec(select(Residency)).all() == []
        assert session.exec(select(Person).where(Person.phone == "13911112222")).first() is None

    await tg.send(user.contact("+86 138 0013 8000"))  # their own, from the button
    assert "已提交登记申请" in tg.api.texts(user.id)[-1]
    with tg.app.sessions() as session:
        [residency] = session.exec(select(Residency)).all()
        applicant = session.get(Person, residency.person_id)
        assert applicant is not None and (applicant.name, applicant.phone) == ("孔九", "13800138000")


def _inline(markup: dict[str, object]) -> list[tuple[str, str]]:
    rows = markup.get("inline_keyboard") or []
    assert isinstance(rows, list)
    return [(b["text"], b["callback_data"]) for row in rows for b in row]


def test_a_photo_where_a_name_or_phone_is_asked_asks_again(app: App) -> None:
    resident = ChatUser(app.service, "walk-in", name="")
    walk_to_kind(resident)
    resident.press("租户")
    resident.photo("not-a-name.jpg")
    assert "还差您的姓名" in resident.text
    resident.say("韩二")
    resident.photo("not-a-phone.jpg")
    assert "还差您的手机号" in resident.text and residencies(app, resident) == []


def test_wechat_types_the_phone_and_has_no_contact_button(app: App) -> None:
    resident = ChatUser(app.service, "openid-1", channel="wechat", name="")
    walk_to_kind(resident)
    resident.press("租户")
    resident.say("杨三")
    [ask] = resident.last
    assert not ask.ask_contact and "请输入您的手机号" in ask.text
    resident.say("1390000")
    assert "号码不对" in resident.text and resident.last[-1].keeps_input
    resident.say("139 0000 1234")
    assert "已提交登记申请" in resident.text and person(app, resident).phone == "13900001234"


def test_a_certificate_sent_on_telegram_is_named_but_not_shown_in_the_web_chat(
    app: App, staff: ChatUser
) -> None:
    require_document(app)
    resident = ChatUser(app.service, "7002", channel="telegram", name="")
    walk_to_kind(resident)
    resident.press("业主")
    resident.say("秦四")
    resident.contact("+8613900008888")
    resident.photo("AgACAgIAAxkBAAIBtelegramfileid")
    assert "已提交登记申请" in resident.text
    request = request_of(staff, "秦四")  # staff on the web page: a Telegram file id cannot be shown there
    assert request.photos == () and "在另一平台发送" in request.text


def test_the_web_page_uploads_the_certificate_before_the_person_has_joined(app: App, staff: ChatUser) -> None:
    require_document(app)
    phone = Browser(app)
    phone.say("/start")
    for label in ("选择住址", COMPOUND, "2栋", "1单元", "301", "业主"):
        phone.press(label)
    phone.say("王阿姨")
    assert phone.upload(png_bytes()).status_code == 403  # not yet asked for a photo: still refused
    phone.say("13900001212")
    assert "房产证" in phone.last_reply
    response = phone.upload(png_bytes())
    assert response.status_code == 200 and "已提交登记申请" in phone.last_reply
    request = request_of(staff, "王阿姨")
    assert len(request.photos) == 1 and (app.settings.files_dir / request.photos[0].ref).is_file()
    phone.client.close()


def test_staff_who_joined_without_a_name_give_one_and_cards_show_it(app: App, owner: ChatUser) -> None:
    worker = ChatUser(app.service, "grid-noname")  # a web page: no platform name
    worker.say("/start DEMO-GRID")
    assert "绑定成功" in worker.text
    worker.press("填写我的称呼")
    assert "请输入您的姓名" in worker.text
    worker.say("1234")  # not a name: asked again, nothing kept
    assert "姓名" in worker.text
    worker.say("王建国")
    assert "好的，王建国" in worker.text
    file_report(owner, "3号楼楼道灯不亮", category="公共设施损坏")
    staff = ChatUser(app.service, "staff-noname")
    staff.say("/start DEMO-STAFF")
    staff.say("#1")
    assert "办理人：王建国" in staff.text
    owner.data(actions.Join("m").encode())  # a resident has no such step
    assert "失效" in owner.text


def test_an_old_registration_cancel_does_nothing_to_a_resident(app: App, owner: ChatUser) -> None:
    owner.data(actions.Join("x").encode())  # 取消 of a registration long over
    assert "失效" in owner.text
    owner.say("电梯又坏了")  # still offered as a report, not taken as an invite code
    assert "作为报事" in owner.text

"""/rating in chat, per role: street staff see the ranking, enter a record with its photo and decide an
appeal; community staff see the ranking and enter nothing; a company's clerk sees only their own company
and appeals a record once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from bot.bootstrap import App
from core.actions import Language, Rating
from db.evaluation.tables import CompanyRecord
from tests.support.chat import ChatUser
from tests.support.evaluation import add_ticket, pushes
from tests.support.rating import PEACE, SUNNY, SUNNY_COMPOUND, clerk, peace, street, sunny

STALE = "这个按钮已失效"


def enter_bad_record(user: ChatUser, reason: str = "11月3日垃圾清运不及时，1栋楼下堆放三天") -> int:
    """Walk /rating's record entry for a bad record of −5 with a photo; the new record's id."""
    user.say("/rating")
    user.press("录入记录")
    assert "1/6" in user.text
    user.press(SUNNY)
    user.press("阳光花园")
    user.press("不良记录")
    assert "1–20" in user.text
    user.press("−5 分")
    user.say(reason)
    assert "证据照片" in user.text and "不附照片" not in str(user.last[-1].buttons)
    user.say("没有照片")  # words are not a photo: asked again
    assert "请发一张照片" in user.text
    user.photo("evidence-1.jpg")
    assert "请核对" in user.text and reason in user.text and "已附" in user.text
    assert [p.ref for p in user.last[-1].photos] == ["evidence-1.jpg"]
    user.press("录入")
    assert "已录入不良记录" in user.text
    return int(user.text.split("#")[1].split("：")[0])


def test_street_staff_see_the_ranking_and_open_a_breakdown(app: App) -> None:
    peace(app)
    user = street(app)
    user.say("/rating")
    assert "物业服务企业评价排名" in user.text
    assert SUNNY in user.text and PEACE in user.text
    assert "录入记录" in str(user.last[-1].buttons) and "发布红黑榜" in str(user.last[-1].buttons)
    user.press(SUNNY)
    text = user.text
    assert "总分" in text and "等级" in text
    for name in ("响应率", "解决率", "满意率", "超时工单", "业主满意度调查", "不良记录"):
        assert name in text
    assert "无工单" in text  # no tickets yet: the inputs say so


def test_the_breakdown_shows_each_indicators_inputs(app: App) -> None:
    at = datetime(2026, 8, 1, 2, 0, tzinfo=UTC)
    ok = {"accepted_at": at + timedelta(minutes=10), "resolved_at": at + timedelta(days=1)}
    late = {"accepted_at": at + timedelta(hours=3), "resolved_at": at + timedelta(days=9)}
    add_ticket(app, SUNNY_COMPOUND, "water", at, state="closed", rating="satisfied", **ok)
    add_ticket(
        app, SUNNY_COMPOUND, "elevator", at, state="closed", rating="dissatisfied", reopen_count=1, **late
    )
    user = street(app)
    user.data(Rating("c", company=sunny(app)).encode())
    text = user.text
    assert "响应率 1/2 → 5.00 分（满分 10.00）" in text  # accepted in time ÷ due, × the weight
    assert "满意率 1/2 → 7.50 分（满分 15.00）" in text
    assert "不满意重办 1/2 → 5.00 分（满分 10.00）" in text  # less is better: weight × (1 − share)
    assert "业主满意度调查 无人作答 → 5.00 分（满分 10.00）" in text


def test_community_staff_see_the_ranking_but_enter_no_record(app: App, staff: ChatUser) -> None:
    staff.say("/rating")
    assert SUNNY in staff.text
    assert "录入记录" not in str(staff.last[-1].buttons) and "发布红黑榜" not in str(staff.last[-1].buttons)
    staff.data(Rating("n").encode())
    assert "没有权限" in staff.text
    staff.data(Rating("b").encode())
    assert "没有权限" in staff.text


def test_a_company_sees_only_its_own_breakdown(app: App) -> None:
    other = peace(app)
    user = clerk(app)
    user.say("/rating")
    assert SUNNY in user.text and "总分" in user.text
    assert PEACE not in user.text and "排名" not in user.text
    user.data(Rating("c", company=other).encode())
    assert PEACE not in user.text and "没有" in user.text
    user.data(Rating("r", company=other).encode())
    assert PEACE not in user.text
    user.data(Rating("n").encode())
    assert "没有权限" in user.text


def test_a_record_with_its_photo_is_appealed_once_and_decided(app: App) -> None:
    grader, company = street(app), clerk(app)
    record_id = enter_bad_record(grader)
    with app.sessions() as session:
        record = session.get(CompanyRecord, record_id)
        assert record is not None
        assert (record.kind, record.points, record.evidence_ref) == ("bad", 5, "evidence-1.jpg")

    company.say("/rating")
    company.press("良好/不良记录")
    assert "垃圾清运不及时" in company.text
    company.data(Rating("v", record=record_id).encode())
    assert [p.ref for p in company.last[-1].photos] == ["evidence-1.jpg"]
    company.press("申诉")
    company.say("当天清运车故障，已于次日上午清运完毕，有清运单为证")
    assert "申诉已提交" in company.text
    assert "清运车故障" in company.text and "待街道裁决" in company.text
    assert "申诉" not in str(company.last[-1].buttons).replace("记录列表", "")
    company.data(Rating("a", record=record_id).encode())  # a second appeal
    assert "只能申诉一次" in company.text

    grader.data(Rating("v", record=record_id).encode())
    grader.press("裁决申诉")
    grader.press("申诉不成立")
    grader.say("清运单显示次日下午才清运，维持记录")
    assert "已裁决" in grader.text
    grader.data(Rating("d", record=record_id).encode())
    assert "已经裁决过" in grader.text

    company.data(Rating("v", record=record_id).encode())
    assert "申诉不成立" in company.text and "维持记录" in company.text
    with app.sessions() as session:
        decided = session.get(CompanyRecord, record_id)
        assert decided is not None
        assert decided.decision == "rejected" and decided.appeal_text.startswith("当天清运车故障")


def test_a_good_record_may_go_without_a_photo_and_cancel_keeps_nothing(app: App) -> None:
    user = street(app)
    user.say("/rating")
    user.press("录入记录")
    user.press(SUNNY)
    user.press("阳光花园")
    user.press("良好记录")
    user.press("+3 分")
    user.say("组织冬季供暖排查，居民好评")
    user.press("不附照片")
    assert "无" in user.text
    enter = next(data for row in user.last[-1].buttons for label, data in row if "录入" in label)
    user.press("取消")
    assert "没有保存" in user.text
    user.data(enter)  # the summary's old button
    assert STALE in user.text
    with app.sessions() as session:
        assert session.exec(select(CompanyRecord)).all() == []


def test_forged_record_buttons_change_nothing(app: App) -> None:
    other = peace(app)
    user = street(app)
    user.data(Rating("nc", company=other).encode())  # not at that step
    assert STALE in user.text
    user.say("/rating")
    user.press("录入记录")
    user.data(Rating("nc", company=999_999).encode())
    assert "1/6" in user.text  # the step is asked again
    user.data(Rating("v", record=999_999).encode())
    assert "没有找到" in user.text


def pushed_buttons(app: App, template: str, user: ChatUser) -> list[str]:
    """The button data of the pushes of a template to a chat user."""
    return [b["data"] for row in pushes(app, template, user) for line in row.buttons for b in line]


def test_the_pushes_buttons_open_the_record_where_it_is_appealed_and_decided(app: App) -> None:
    grader, company = street(app), clerk(app)
    record_id = enter_bad_record(grader)
    (opened,) = pushed_buttons(app, "evaluation.record_entered", company)
    company.data(opened)
    assert f"#{record_id}" in company.text and "垃圾清运不及时" in company.text
    company.press("申诉")
    company.say("已于次日清运")
    (decide,) = pushed_buttons(app, "evaluation.record_appealed", grader)
    grader.say("/notices")  # elsewhere when the push comes
    grader.data(decide)
    assert "裁决记录" in grader.text
    grader.press("申诉成立")
    grader.say("核实属实")
    assert "记录不再计分" in grader.text


def test_the_whole_walk_reads_in_english(app: App) -> None:
    grader, company = street(app), clerk(app)
    for user in (grader, company):
        user.data(Language(locale="en").encode())
    grader.say("/rating")
    assert "Ranking of property companies" in grader.text
    grader.press(SUNNY)
    assert "Response rate: no tickets → 10.00 points (of 10.00)" in grader.text and "grade A" in grader.text
    grader.say("/rating")
    grader.press("New record")
    grader.press(SUNNY)
    grader.press("阳光花园")
    grader.press("Bad record")
    grader.press("−2")
    grader.say("Rubbish left out for three days")
    grader.photo("evidence-en.jpg")
    assert "Please check, then enter it" in grader.text
    grader.press("Enter")
    assert "bad record (−2 points) is entered" in grader.text
    company.say("/rating")
    company.press("Good and bad records")
    company.press("#")
    company.press("Appeal")
    company.say("It was collected the next morning")
    assert "Your appeal is sent" in company.text and "awaits the street's decision" in company.text
    grader.say("/rating")
    grader.press("Publish red/black list")
    assert "Red list" in grader.text and "Black list" in grader.text

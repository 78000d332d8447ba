"""物业评价 at the console: the ranking with grades and a chart, a company's breakdown with each indicator's
inputs, records with their evidence photo, the company's one appeal and the street's decision, surveys
with their turnout per compound, the CSV download and the 红黑榜 — each through the same use cases, with
the same jurisdiction, as /rating in the chat."""

from __future__ import annotations

import re

from sqlmodel import select

from bot.bootstrap import App
from db.evaluation.tables import CompanyRecord, Survey
from db.models import AuditEntry, Notice, OrgNode
from tests.support.chat import ChatUser
from tests.support.console import sign_in
from tests.support.rating import PEACE, SUNNY, clerk, home_of, peace, start_button, street, sunny
from tests.test_webchat import png_bytes


def compound_id(app: App, name: str = "阳光花园") -> int:
    with app.sessions() as session:
        node = session.exec(select(OrgNode).where(OrgNode.name == name)).one()
        assert node.id is not None
        return node.id


def enter(app: App, desk_user: ChatUser, photo: bool = True, kind: str = "bad") -> int:
    """Post a record for 阳光物业 in 阳光花园 from its company page; the new record's id."""
    desk = sign_in(app, desk_user)
    company = sunny(app)
    page = desk.get(f"/console/rating/companies/{company}")
    assert 'id="new-record"' in page.text
    files = {"photo": ("proof.png", png_bytes(), "image/png")} if photo else None
    done = desk.post(
        "/console/rating/records",
        {
            "company": company,
            "compound": compound_id(app),
            "kind": kind,
            "points": "6",
            "reason": "楼道堆放杂物未清理",
        },
        files=files,
    )
    assert done.status_code == 303, done.text
    with app.sessions() as session:
        record = session.exec(select(CompanyRecord).order_by(CompanyRecord.id.desc())).first()  # type: ignore[union-attr]
    if "error=" in done.headers["location"]:
        return 0
    assert record is not None and record.id is not None
    return record.id


def test_the_ranking_shows_grades_a_chart_and_downloads_as_csv(app: App) -> None:
    peace(app)
    desk = sign_in(app, street(app))
    page = desk.get("/console/rating")
    assert page.status_code == 200
    table = page.text.split('id="ranking"')[1].split("</table>")[0]
    assert SUNNY in table and PEACE in table and ">A</span>" in table and "75.00" in table
    assert (
        'data-chart="rating-chart"' in page.text
        and '<script type="application/json" id="rating-chart">' in page.text
    )
    assert 'href="/console/rating/board?half=2026H2"' in page.text
    shown = re.sub(r'(value|href)="[^"]*"', "", page.text)  # the codes kept in links and form values
    assert "2026年下半年" in shown and "2026H2" not in shown
    sheet = desk.get("/console/rating/export.csv?half=2026H2")
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    text = sheet.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("名次,企业,等级,总分,响应率")
    assert SUNNY in text and PEACE in text


def test_a_breakdown_lists_every_indicator_with_its_inputs(app: App) -> None:
    desk = sign_in(app, street(app))
    page = desk.get(f"/console/rating/companies/{sunny(app)}")
    assert page.status_code == 200
    table = page.text.split('id="breakdown"')[1].split("</table>")[0]
    for name in (
        "响应率",
        "解决率",
        "满意率",
        "超时工单",
        "升级工单",
        "不满意重办",
        "重复投诉",
        "业主满意度调查",
    ):
        assert name in table
    assert "无工单" in table and "无人作答" in table


def test_a_record_with_its_photo_is_appealed_once_and_decided(app: App) -> None:
    grader = street(app)
    record_id = enter(app, grader)
    with app.sessions() as session:
        record = session.get(CompanyRecord, record_id)
        assert record is not None and record.evidence_channel == "web"
        assert record.evidence_ref.endswith((".png", ".jpg"))
    desk = sign_in(app, grader)
    page = desk.get(f"/console/rating/companies/{sunny(app)}?done=entered")
    assert f'src="/console/rating/records/{record_id}/photo"' in page.text
    assert desk.get(f"/console/rating/records/{record_id}/photo").headers["content-type"].startswith("image/")

    company = sign_in(app, clerk(app))
    landing = company.get("/console/rating")
    assert landing.status_code == 303 and landing.headers["location"].startswith(
        f"/console/rating/companies/{sunny(app)}"
    )
    mine = company.get(landing.headers["location"])
    assert (
        'class="appeal"' in mine.text
        and 'class="decide"' not in mine.text
        and 'id="new-record"' not in mine.text
    )
    appealed = company.post(
        f"/console/rating/records/{record_id}/appeal", {"reason": "杂物属业主装修，已通知清理"}
    )
    assert appealed.status_code == 303 and "done=appealed" in appealed.headers["location"]
    again = company.post(f"/console/rating/records/{record_id}/appeal", {"reason": "再申诉"})
    assert "error=already_appealed" in again.headers["location"]

    decide_page = desk.get(f"/console/rating/companies/{sunny(app)}")
    assert 'class="decide"' in decide_page.text
    decided = desk.post(
        f"/console/rating/records/{record_id}/decide", {"decision": "upheld", "note": "经核实属实"}
    )
    assert "done=decided" in decided.headers["location"]
    shown = company.get(f"/console/rating/companies/{sunny(app)}").text
    row = shown.split(f'id="record-{record_id}"')[1].split("</tr>")[0]
    assert "杂物属业主装修" in row and "申诉成立" in row and "经核实属实" in row
    with app.sessions() as session:
        record = session.get(CompanyRecord, record_id)
        assert record is not None and (record.appeal_text, record.decision) == (
            "杂物属业主装修，已通知清理",
            "upheld",
        )
        actions = session.exec(
            select(AuditEntry.action, AuditEntry.via).where(AuditEntry.subject_id == record_id)
        ).all()
    assert {a for a, via in actions if via == "console"} >= {"company.appeal", "company.decide"}


def test_a_bad_record_needs_its_photo(app: App) -> None:
    assert enter(app, street(app), photo=False) == 0
    with app.sessions() as session:
        assert session.exec(select(CompanyRecord)).all() == []


def test_community_staff_and_the_company_enter_no_record(app: App, staff: ChatUser) -> None:
    for user in (staff, clerk(app)):
        desk = sign_in(app, user)
        page = desk.get(f"/console/rating/companies/{sunny(app)}")
        assert page.status_code == 200 and 'id="new-record"' not in page.text
        refused = desk.post(
            "/console/rating/records",
            {
                "company": sunny(app),
                "compound": compound_id(app),
                "kind": "good",
                "points": "3",
                "reason": "r",
            },
        )
        assert refused.status_code == 403
    with app.sessions() as session:
        assert session.exec(select(CompanyRecord)).all() == []


def test_a_company_never_sees_another_company(app: App) -> None:
    other = peace(app)
    desk = sign_in(app, clerk(app))
    assert desk.get(f"/console/rating/companies/{other}").status_code == 404
    csv = desk.get("/console/rating/export.csv").content.decode("utf-8-sig")
    assert SUNNY in csv and PEACE not in csv


def test_staff_open_a_survey_and_see_its_turnout_per_compound(
    app: App, staff: ChatUser, owner: ChatUser
) -> None:
    desk = sign_in(app, staff)
    page = desk.get("/console/rating/surveys")
    assert page.status_code == 200 and 'id="open-survey"' in page.text
    opened = desk.post("/console/rating/surveys", {"company": sunny(app), "half": "2026H2"})
    assert opened.status_code == 303, opened.text
    survey_id = int(re.findall(r"/console/rating/surveys/(\d+)", opened.headers["location"])[0])
    owner.data(start_button(survey_id, home_of(app, owner)))
    for _ in range(6):
        owner.press("4 满意")
    turnout = (
        desk.get(f"/console/rating/surveys/{survey_id}").text.split('id="turnout"')[1].split("</table>")[0]
    )
    assert "阳光花园" in turnout and re.search(r'<td class="num">1</td><td class="num">\d+</td>', turnout)
    assert "王芳" not in turnout
    twice = desk.post("/console/rating/surveys", {"company": sunny(app), "half": "2026H2"})
    assert "error=survey_exists" in twice.headers["location"]
    closed = desk.post(f"/console/rating/surveys/{survey_id}/close")
    assert "done=closed" in closed.headers["location"]
    assert 'id="close-survey"' not in desk.get(f"/console/rating/surveys/{survey_id}").text
    again = desk.post(f"/console/rating/surveys/{survey_id}/close")
    assert "error=closed" in again.headers["location"]
    with app.sessions() as session:
        assert [s.state for s in session.exec(select(Survey)).all()] == ["closed"]


def test_street_staff_publish_the_board_from_the_console(app: App) -> None:
    peace(app)
    desk = sign_in(app, street(app))
    preview = desk.get("/console/rating/board?half=2026H2")
    assert preview.status_code == 200 and 'id="red"' in preview.text and 'id="black"' in preview.text
    done = desk.post("/console/rating/board", {"half": "2026H2"})
    assert done.status_code == 303 and "done=published" in done.headers["location"]
    with app.sessions() as session:
        notice = session.exec(select(Notice).where(Notice.kind == "rating")).one()
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "rating.publish")).one()
    assert entry.via == "console" and entry.subject_id == notice.id


def test_posts_need_the_csrf_token(app: App) -> None:
    desk = sign_in(app, street(app))
    bare = desk.client.post("/console/rating/board", data={"half": "2026H2"})
    assert bare.status_code == 403
    with app.sessions() as session:
        assert session.exec(select(Notice).where(Notice.kind == "rating")).all() == []


def test_every_page_reads_in_english(app: App, owner: ChatUser) -> None:
    grader = street(app)
    record_id = enter(app, grader)
    survey = sign_in(app, grader).post("/console/rating/surveys", {"company": sunny(app), "half": "2026H2"})
    survey_path = survey.headers["location"].split("?")[0]
    desk = sign_in(app, grader)
    assert desk.post("/console/lang", {"locale": "en"}).status_code == 303
    for path, words in (
        ("/console/rating", "Company ratings"),
        (f"/console/rating/companies/{sunny(app)}", "Response rate"),
        ("/console/rating/surveys", "Satisfaction surveys"),
        (survey_path, "Turnout"),
        ("/console/rating/board", "Red list"),
    ):
        page = desk.get(path)
        assert page.status_code == 200 and words in page.text, path
    assert f'id="record-{record_id}"' in desk.get(f"/console/rating/companies/{sunny(app)}").text

"""The console's 收支公示 and the residents' statement page: a clerk uploads a statement file (bad lines
shown with their line numbers, nothing saved), publishes it and corrects it with a note; a company sees
only the compounds it serves; residents cannot use the console; the page opens from the chat's signed link
(or the web chat's own session) and refuses forged, expired and other compounds' links in plain words."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import col, func, select

from bot.bootstrap import App
from core import ledger_links
from db.ledger.tables import LedgerLine, LedgerStatement
from tests.support import accounts
from tests.support.chat import ChatUser, person_of
from tests.support.console import client, forced_desk, sign_in
from tests.support.ledger import PEACE, node_id

GOOD_CSV = "category,amount,note\nservice_fee,128000.50,7-9月物业费实收\nrepairs,8000,电梯维保\n"
BAD_CSV = "category,amount,note\nservice_fee,128000.50,ok\nrepairs,八千,typo\nfund_use,10,wrong filer\n"
BAD_YAML = "lines:\n  - {category: parking, amount: 3600}\n\n  - category: cleaning\n    amount: -5\n"


def clerk_of(app: App) -> ChatUser:
    """A clerk of the demo company that serves 阳光花园."""
    user = ChatUser(app.service, "clerk-1", name="赵会计")
    user.say("/start DEMO-PROPERTY")
    return user


def statements(app: App) -> list[LedgerStatement]:
    """Every statement stored, oldest first."""
    with app.sessions() as session:
        return list(session.exec(select(LedgerStatement).order_by(col(LedgerStatement.id))).all())


def filing_key(page: str) -> str:
    """The first compound:filer the upload form offers."""
    found = re.search(r'<option value="(\d+:\w+)"', page)
    assert found, page
    return found.group(1)


def upload(desk, name: str, body: str, publish: bool = True):  # type: ignore[no-untyped-def]
    """Post a statement file through the upload form."""
    form = desk.get("/console/accounts/upload").text
    data = {"filing": filing_key(form), "period": "2026Q3", **({"publish": "1"} if publish else {})}
    return desk.post("/console/accounts/upload", data, files={"file": (name, body.encode(), "text/csv")})


def test_a_clerk_uploads_publishes_and_corrects(app: App, owner: ChatUser) -> None:
    desk = sign_in(app, clerk_of(app))
    assert "收支公示" in desk.get("/console").text
    bad = upload(desk, "q3.csv", BAD_CSV)
    assert bad.status_code == 422
    assert "第 3 行" in bad.text and "金额不对" in bad.text
    assert "第 4 行" in bad.text and "不属于该公示人" in bad.text
    assert "第 2 行" not in bad.text
    assert statements(app) == []
    yaml_bad = upload(desk, "q3.yaml", BAD_YAML)
    assert yaml_bad.status_code == 422 and "第 4 行" in yaml_bad.text and "第 2 行" not in yaml_bad.text

    done = upload(desk, "q3.csv", GOOD_CSV, publish=False)
    assert done.status_code == 303, done.text
    [draft] = statements(app)
    assert draft.state == "draft"
    page = desk.get(done.headers["location"]).text
    assert "已保存为草稿" in page and "128,000.50" in page and 'data-chart="statement-chart"' in page
    published = desk.post(f"/console/accounts/{draft.id}/publish")
    assert published.status_code == 303
    assert statements(app)[0].state == "published"

    # A resident asks about a line; the console shows the question with a link to its ticket.
    owner.say("/accounts")
    owner.press("2026年第3季度")
    owner.press("对这一项有疑问")
    owner.say("2")
    owner.say("维保合同在哪里可以看？")
    number = re.search(r"#(\d+)", owner.text)
    assert number
    page = desk.get(f"/console/accounts/{draft.id}").text
    assert f'href="/console/tickets/{number.group(1)}"' in page

    corrected = desk.post(
        f"/console/accounts/{draft.id}/correct",
        {"note": "电梯维保少算800元"},
        files={"file": ("q3.csv", GOOD_CSV.replace("8000", "8800").encode(), "text/csv")},
    )
    assert corrected.status_code == 303, corrected.text
    second = statements(app)[-1]
    assert (second.version, second.supersedes, second.state) == (2, draft.id, "draft")
    owner.say("/accounts")  # a correction still in draft is the clerk's business only
    owner.press("2026年第3季度")
    assert "已被更正" not in owner.text and "第2版" not in owner.text
    desk.post(f"/console/accounts/{second.id}/publish")
    page = desk.get(f"/console/accounts/{second.id}").text
    assert "电梯维保少算800元" in page and "本次更正" in page and "第1版" in page
    listing = desk.get("/console/accounts").text
    assert "第2版" in listing and "已被更正" in listing
    assert 'id="statements"' not in desk.get("/console/accounts?state=draft").text  # both published
    assert 'id="statements"' in desk.get("/console/accounts?period=2026Q3").text
    assert 'id="statements"' not in desk.get("/console/accounts?period=2026Q2").text


def test_a_correction_without_a_note_or_with_a_bad_line_changes_nothing(app: App) -> None:
    desk = sign_in(app, clerk_of(app))
    upload(desk, "q3.csv", GOOD_CSV)
    [first] = statements(app)
    refused = desk.post(
        f"/console/accounts/{first.id}/correct",
        {"note": ""},
        files={"file": ("q3.csv", GOOD_CSV.encode(), "text/csv")},
    )
    assert refused.status_code == 422 and "更正说明" in refused.text
    bad = desk.post(
        f"/console/accounts/{first.id}/correct",
        {"note": "改"},
        files={"file": ("q3.csv", BAD_CSV.encode(), "text/csv")},
    )
    assert bad.status_code == 422 and "第 3 行" in bad.text
    assert len(statements(app)) == 1


def peace_statement(app: App) -> int:
    """A published statement of 和平里小区, filed by the company that serves it."""
    return accounts.published(app, PEACE, "和平物业")


def test_a_company_sees_only_the_compounds_it_serves(app: App) -> None:
    peace = peace_statement(app)
    desk = sign_in(app, clerk_of(app))
    upload(desk, "q3.csv", GOOD_CSV)
    listing = desk.get("/console/accounts").text
    assert "阳光花园" in listing and "和平里" not in listing
    assert desk.get(f"/console/accounts/{peace}").status_code == 404
    before = len(statements(app))
    assert desk.post(f"/console/accounts/{peace}/publish").status_code == 404
    refused = desk.post(
        f"/console/accounts/{peace}/correct",
        {"note": "x"},
        files={"file": ("q.csv", GOOD_CSV.encode(), "text/csv")},
    )
    assert refused.status_code == 404 and len(statements(app)) == before
    form = desk.get("/console/accounts/upload").text
    assert "和平里" not in form
    forged = desk.post(
        "/console/accounts/upload",
        {"filing": f"{node_id(app, PEACE)}:company", "period": "2026Q2", "publish": "1"},
        files={"file": ("q.csv", GOOD_CSV.encode(), "text/csv")},
    )
    assert forged.status_code == 422 and len(statements(app)) == before


def test_residents_cannot_use_the_console(app: App, owner: ChatUser) -> None:
    desk = forced_desk(app, owner)
    assert desk.get("/console/accounts").status_code in (401, 403)
    assert desk.post("/console/accounts/upload").status_code in (401, 403)


def test_the_page_opens_from_the_chats_link_and_refuses_others(app: App, owner: ChatUser) -> None:
    peace = peace_statement(app)
    clerk = clerk_of(app)
    desk = sign_in(app, clerk)
    upload(desk, "q3.csv", GOOD_CSV)
    ours = statements(app)[-1].id
    owner.say("/accounts")
    owner.press("2026年第3季度")
    link = re.search(r"https?://\S+(/accounts/\d+\?t=\S+)", owner.text)
    assert link, owner.text
    browser = client(app)
    page = browser.get(link.group(1))
    assert page.status_code == 200
    assert (
        "阳光花园" in page.text
        and "128,000.50" in page.text
        and "/console/static/vendor/echarts" in page.text
    )
    assert "<script>" not in page.text  # no inline code: the chart's option is a JSON data block
    token = link.group(1).split("?t=")[1]
    # The same person's link does not open another compound's statement: it opens only its own.
    other = browser.get(f"/accounts/{peace}?t={token}")
    assert other.status_code == 403 and "500.00" not in other.text
    # A forged link, an expired one, or none at all.
    person = person_of(app.sessions, owner)
    forged = token.rsplit(".", 1)[0] + ".AAAAAAAAAAAAAAAAAAAAAAAA"
    assert browser.get(f"/accounts/{ours}?t={forged}").status_code == 403
    someone = ledger_links.issue(b"another key entirely", person, ours, app.clock.now())
    assert browser.get(f"/accounts/{ours}?t={someone}").status_code == 403
    assert client(app).get(f"/accounts/{ours}").status_code == 403
    app.clock.advance(days=8)  # type: ignore[attr-defined]
    expired = browser.get(f"/accounts/{ours}?t={token}")
    assert expired.status_code == 403 and "已过期" in expired.text


def test_a_link_opens_only_its_own_statement_and_its_versions_by_their_links(
    app: App, owner: ChatUser
) -> None:
    desk = sign_in(app, clerk_of(app))
    upload(desk, "q3.csv", GOOD_CSV)
    first = statements(app)[-1].id
    desk.post(
        f"/console/accounts/{first}/correct",
        {"note": "电梯维保少算800元"},
        files={"file": ("q3.csv", GOOD_CSV.replace("8000", "8800").encode(), "text/csv")},
    )
    second = statements(app)[-1].id
    desk.post(f"/console/accounts/{second}/publish")
    person = person_of(app.sessions, owner)
    token = ledger_links.issue(app.settings.seal_key, person, first, app.clock.now())
    browser = client(app)
    assert browser.get(f"/accounts/{first}?t={token}").status_code == 200
    refused = browser.get(f"/accounts/{second}?t={token}")
    assert refused.status_code == 403 and "8,800.00" not in refused.text
    # The old version's page links to the newest with a link of its own, which opens it.
    newest = re.search(
        rf'href="(/accounts/{second}\?t=[^"]+)"', browser.get(f"/accounts/{first}?t={token}").text
    )
    assert newest, "no link to the newest version"
    opened = browser.get(newest.group(1).replace("&amp;", "&"))
    assert opened.status_code == 200 and "8,800.00" in opened.text
    # A token with letters outside ASCII, or one past its time, shows the refusal page, not an error.
    browser.raise_server_exceptions = False
    odd = browser.get(f"/accounts/{first}?t=1.9999999999.%C3%A9")
    assert odd.status_code == 403 and "收支公示" in odd.text
    app.clock.advance(days=8)  # type: ignore[attr-defined]
    assert browser.get(f"/accounts/{first}?t={token}").status_code == 403


def test_the_web_chats_own_session_opens_the_page(app: App) -> None:
    desk = sign_in(app, clerk_of(app))
    upload(desk, "q3.csv", GOOD_CSV)
    ours = statements(app)[-1].id
    browser = client(app)
    browser.get("/chat")  # the page makes the browser its session
    uid = browser.cookies.get("linli_session")
    assert uid
    # The browser joins as an owner through its own chat.
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', browser.get("/chat").text)
    assert csrf
    sent = browser.post(
        "/chat/api/send",
        json={"id": "m1", "text": "/start DEMO-OWNER"},
        headers={"X-CSRF-Token": csrf.group(1), "Origin": "http://testserver"},
    )
    assert sent.status_code == 200, sent.text
    assert browser.get(f"/accounts/{ours}").status_code == 200


def test_a_refused_upload_and_publish_saves_no_draft(app: App) -> None:
    desk = sign_in(app, clerk_of(app))
    empty = upload(desk, "q3.csv", "category,amount,note\n", publish=True)
    assert empty.status_code == 422
    assert statements(app) == []
    good = upload(desk, "q3.csv", GOOD_CSV, publish=True)
    assert good.status_code == 303
    assert [s.state for s in statements(app)] == ["published"]


def test_amounts_in_another_form_than_plain_yuan_are_named_by_line(app: App) -> None:
    desk = sign_in(app, clerk_of(app))
    body = "category,amount,note\nservice_fee,1e3,a\nrepairs,1e999997,b\nrepairs,1e1000000,c\n"
    body += "repairs,NaN,d\nrepairs,-5,e\n"
    bad = upload(desk, "q3.csv", body, publish=False)
    assert bad.status_code == 422
    assert all(f"第 {n} 行" in bad.text for n in range(2, 7)) and "金额不对" in bad.text
    assert statements(app) == []
    grouped = upload(desk, "q3.csv", 'category,amount,note\nservice_fee,"12,345.6",a\n', publish=False)
    assert grouped.status_code == 303
    assert [s.state for s in statements(app)] == ["draft"]


def test_ledger_lines_are_untouched_by_refused_requests(app: App) -> None:
    with app.sessions() as session:
        assert session.exec(select(func.count()).select_from(LedgerLine)).one() == 0
    assert timedelta(days=7) == ledger_links.LIFETIME


def test_the_console_pages_in_english(app: App, owner: ChatUser) -> None:
    desk = sign_in(app, clerk_of(app))
    desk.post("/console/lang", {"locale": "en"})
    assert "Upload a statement file" in desk.get("/console/accounts/upload").text
    bad = upload(desk, "q3.csv", BAD_CSV)
    assert bad.status_code == 422 and "line 3" in bad.text
    done = upload(desk, "q3.csv", GOOD_CSV)
    page = desk.get(done.headers["location"]).text
    assert "Total income" in page and "Published" in page
    assert "Q3 2026" in desk.get("/console/accounts").text

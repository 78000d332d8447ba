"""Property companies from the organisation file and `linli invite --company`, as an operator uses them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from bot.clock import FixedClock
from core.permissions import Action, may, place
from db import companies, org, people
from db.companies import CompanyContract
from tests.conftest import make_app
from tests.support.chat import ChatUser, person_of
from tests.support.cli import run

DATA = Path(__file__).parent / "data"
YOUTH = "沈河区/五里河街道/青年社区"


def _org_with(tmp_path: Path, company_block: str, name: str = "org.yaml") -> Path:
    """The test organisation with a `company:` written under its first compound."""
    text = (DATA / "org_good.yaml").read_text(encoding="utf-8")
    text = text.replace("          - name: 青年公寓\n", f"          - name: 青年公寓\n{company_block}", 1)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _contracts(sessions: sessionmaker[Session], compound: str) -> list[tuple[str, date, date | None]]:
    with sessions() as session:
        node = org.find_node(session, compound)
        assert node is not None
        rows = session.exec(
            select(CompanyContract).where(CompanyContract.compound_id == node.id).order_by(CompanyContract.id)
        ).all()
        names = {c.id: c.name for c in session.exec(select(companies.PropertyCompany)).all()}
        return [(names[r.company_id], r.starts_on, r.ends_on) for r in rows]


def test_a_dated_company_in_the_file_serves_its_compound(
    env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    block = "            company: {name: 青年物业有限公司, since: 2026-01-01, until: 2028-12-31}\n"
    status, _, err = run(["import-org", str(_org_with(tmp_path, block))], capsys)
    assert status == 0, err
    status, _, _ = run(["import-org", str(_org_with(tmp_path, block))], capsys)  # again: nothing new
    app = make_app(env["DATABASE_URL"], tmp_path, FixedClock())
    try:
        assert _contracts(app.sessions, f"{YOUTH}/青年公寓") == [
            ("青年物业有限公司", date(2026, 1, 1), date(2028, 12, 31))
        ]
        assert _contracts(app.sessions, f"{YOUTH}/幸福里") == []
    finally:
        app.engine.dispose()


def test_a_new_company_takes_over_the_day_after_the_old_one_ends(
    env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old = "            company: {name: 旧物业公司, since: 2025-01-01}\n"
    run(["import-org", str(_org_with(tmp_path, old))], capsys)
    new = "            company: 新物业公司\n"
    status, _, err = run(["import-org", str(_org_with(tmp_path, new))], capsys)
    assert status == 0, err
    run(["import-org", str(_org_with(tmp_path, new))], capsys)  # again: still one contract each
    app = make_app(env["DATABASE_URL"], tmp_path, FixedClock())
    try:
        (old_name, _, old_end), (new_name, new_start, new_end) = _contracts(app.sessions, f"{YOUTH}/青年公寓")
        assert (old_name, new_name, new_end) == ("旧物业公司", "新物业公司", None)
        assert old_end is not None and (new_start - old_end).days == 1
    finally:
        app.engine.dispose()


@pytest.mark.parametrize(
    ("block", "says"),
    [
        ("            company: {name: 青年物业, since: 2026-13-01}\n", "YYYY-MM-DD"),
        ("            company: {name: 青年物业, since: 2026-05-01, until: 2026-04-30}\n", "before it starts"),
        ("            company: {since: 2026-05-01}\n", "company name"),
    ],
)
def test_a_bad_company_is_refused_with_its_line(
    block: str,
    says: str,
    env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, _, err = run(["import-org", str(_org_with(tmp_path, block))], capsys)
    assert status == 1 and says in err and "org.yaml:9:" in err, err


def test_the_csv_company_column_names_the_compounds_company(
    env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = (DATA / "org_good.csv").read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    path = tmp_path / "org.csv"
    path.write_text(
        "\n".join([header + ",company", *(r + ",青年物业有限公司" for r in rows)]) + "\n", "utf-8"
    )
    status, _, err = run(["import-org", str(path)], capsys)
    assert status == 0, err
    app = make_app(env["DATABASE_URL"], tmp_path, FixedClock())
    try:
        served = _contracts(app.sessions, "沈河区/五里河街道/彩塔社区/彩塔花园")
        assert [name for name, _, end in served if end is None] == ["青年物业有限公司"]
    finally:
        app.engine.dispose()


def test_a_company_invite_lets_its_clerk_see_only_the_compounds_it_serves(
    env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run(["import-org", str(_org_with(tmp_path, "            company: 青年物业有限公司\n"))], capsys)
    status, out, err = run(["invite", "--company", "青年物业有限公司"], capsys)
    assert status == 0, err
    code = out.splitlines()[0].strip()
    app = make_app(env["DATABASE_URL"], tmp_path, FixedClock())
    try:
        clerk = ChatUser(app.service, "clerk", name="物业客服")
        clerk.say(f"/start {code}")
        clerk_id = person_of(app.sessions, clerk)
        with app.sessions() as session:
            served, other = (org.find_node(session, f"{YOUTH}/{c}") for c in ("青年公寓", "幸福里"))
            assert served is not None and other is not None
            actor = people.actor(session, clerk_id)
        assert may(actor, Action.VIEW_QUEUE, place(served.path))
        assert not may(actor, Action.VIEW_QUEUE, place(other.path))
    finally:
        app.engine.dispose()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["invite", "--company", "没有这家公司"], "no property company"),
        (["invite", f"{YOUTH}/幸福里", "--company", "青年物业有限公司"], "does not serve"),
        (["invite", "--company", "青年物业有限公司", "--role", "grid_worker"], "property-staff"),
    ],
)
def test_a_company_invite_that_cannot_work_is_refused(
    argv: list[str],
    says: str,
    env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run(["import-org", str(_org_with(tmp_path, "            company: 青年物业有限公司\n"))], capsys)
    status, out, err = run(argv, capsys)
    assert status in (1, 2) and out == "" and says in err, err

"""The demo's public codes grant staff powers, so the demo runs only on the embedded SQLite database and
only until a real organisation is imported, and a running demo says so loudly at the start."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import func, select

from bot.bootstrap import App, build
from bot.cli import main
from bot.clock import FixedClock
from bot.demo import DEMO_ORG, load_demo, only_demo_org
from bot.runner import prepare
from bot.settings import SettingsError, load_settings
from db.models import Grid, Invite, OrgNode, Residency, RoleGrant
from db.org import import_org_file
from tests.conftest import TEST_KEYS, make_app
from tests.support.chat import ChatUser
from tests.support.process import BotProcess

DATA = Path(__file__).parent / "data"
# A real organisation that shares the demo's district: the demo's district code must not reach it.
REAL_ORG = """\
district: 铁西区
streets:
  - name: 兴华街道
    communities:
      - name: 兴华社区
        compounds:
          - name: 兴华小区
            buildings:
              - name: 1号楼
                entrances:
                  - name: 1单元
                    homes:
                      - {number: "101", area: 90}
"""


def _joins(app: App, ref: str, code: str) -> ChatUser:
    user = ChatUser(app.service, ref, name=ref)
    user.say(f"/start {code}")
    return user


def _holdings(app: App) -> tuple[int, int, int]:
    """(demo invites, role grants, residencies) in the database."""
    with app.sessions() as session:
        codes = select(func.count()).select_from(Invite).where(Invite.code.startswith("DEMO-"))  # type: ignore[attr-defined]
        return (
            int(session.exec(codes).one()),
            int(session.exec(select(func.count()).select_from(RoleGrant)).one()),
            int(session.exec(select(func.count()).select_from(Residency)).one()),
        )


def _pg_app(url: str, tmp_path: Path, clock: FixedClock, **overrides: object) -> App:
    values: dict[str, object] = {"LINLI_VAR_DIR": tmp_path / "var", "DATABASE_URL": url, **TEST_KEYS}
    return build(load_settings(**(values | overrides)), clock=clock)


def test_the_demo_never_runs_on_postgresql(postgres_url: str, tmp_path: Path, clock: FixedClock) -> None:
    app = _pg_app(postgres_url, tmp_path, clock)
    try:
        assert prepare(app) is False and app.extras["demo"] is False
        with app.sessions() as session:
            assert session.exec(select(func.count()).select_from(OrgNode)).one() == 0
        visitor = _joins(app, "visitor", "DEMO-DISTRICT")
        assert "绑定成功" not in visitor.text and "无效" in visitor.text
        assert _holdings(app) == (0, 0, 0)
    finally:
        app.engine.dispose()


def test_a_postgresql_database_that_ran_the_demo_loses_its_codes_and_what_they_gave(
    postgres_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    """Before this release the demo was on by default with PostgreSQL too: its grants are taken back."""
    app = _pg_app(postgres_url, tmp_path, clock)
    try:
        with app.sessions() as session:
            load_demo(session, clock.now())
            session.commit()
        district = _joins(app, "district", "DEMO-DISTRICT")
        grid = _joins(app, "grid", "DEMO-GRID")
        owner = _joins(app, "owner", "DEMO-OWNER")
        assert all("绑定成功" in user.text for user in (district, grid, owner))
        assert prepare(app) is False
        assert _holdings(app) == (0, 0, 0)
        with app.sessions() as session:
            assert all(g.worker_id is None and g.backup_id is None for g in session.exec(select(Grid)))
        district.say("/queue")
        assert "此功能仅供" in district.text, district.text  # no longer department staff
        again = _joins(app, "district-2", "DEMO-DISTRICT")
        assert "无效" in again.text
    finally:
        app.engine.dispose()


def test_ending_the_demo_keeps_roles_and_homes_given_by_real_invites_on_the_demo_nodes(
    postgres_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    """A real organisation may live in the demo's nodes: only what the public codes gave is taken back."""
    from db import org, people

    app = _pg_app(postgres_url, tmp_path, clock)
    try:
        with app.sessions() as session:
            load_demo(session, clock.now())
            district = org.find_node(session, "铁西区")
            home = org.find_home(session, "铁西区/北沟街道/英雄社区/阳光花园/1栋/1单元/101")
            assert district is not None and home is not None
            staff_code = people.create_invite(
                session, "department_staff", clock.now(), node_id=district.id
            ).code
            owner_code = people.create_invite(session, "owner", clock.now(), home_id=home.id).code
            session.commit()
        real_staff, real_owner = _joins(app, "real-staff", staff_code), _joins(app, "real-owner", owner_code)
        demo_staff = _joins(app, "demo-staff", "DEMO-DISTRICT")
        assert all("绑定成功" in u.text for u in (real_staff, real_owner, demo_staff))
        assert prepare(app) is False
        assert _holdings(app) == (0, 1, 1)  # the real department staff and the real owner stay
        real_staff.say("/queue")
        assert "此功能仅供" not in real_staff.text
        demo_staff.say("/queue")
        assert "此功能仅供" in demo_staff.text
    finally:
        app.engine.dispose()


def test_linli_demo_1_with_postgresql_stops_the_start_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql://postgres@127.0.0.1:9/nowhere"  # never reached: the settings stop the start first
    with pytest.raises(SettingsError) as refused:
        load_settings(LINLI_VAR_DIR=tmp_path, DATABASE_URL=url, LINLI_DEMO="1", **TEST_KEYS)
    assert str(refused.value).startswith("setting LINLI_DEMO: ") and "SQLite" in str(refused.value)
    assert load_settings(LINLI_VAR_DIR=tmp_path, DATABASE_URL=url, LINLI_DEMO="0", **TEST_KEYS)
    monkeypatch.chdir(tmp_path)
    for name, value in {"DATABASE_URL": url, "LINLI_DEMO": "1", **TEST_KEYS}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        main(["run"])
    assert stopped.value.code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("linli: setting LINLI_DEMO: ")


def test_importing_a_real_organisation_ends_the_demo(
    sqlite_url: str,
    tmp_path: Path,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = make_app(sqlite_url, tmp_path, clock)
    try:
        assert app.extras["demo"] is True
        district = _joins(app, "district", "DEMO-DISTRICT")
        assert "绑定成功" in district.text
        org_file = tmp_path / "real.yaml"
        org_file.write_text(REAL_ORG, encoding="utf-8")
        for name in ("LINLI_DEMO", "SECRET_KEY", "BALLOT_KEY", "TELEGRAM_BOT_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("DATABASE_URL", sqlite_url)
        monkeypatch.setenv("LINLI_VAR_DIR", str(tmp_path / "var"))
        monkeypatch.chdir(tmp_path)
        assert main(["import-org", str(org_file)]) == 0
        assert "demo off" in capsys.readouterr().out

        assert _holdings(app) == (0, 0, 0)  # the district code is gone, and so is what it gave
        newcomer = _joins(app, "newcomer", "DEMO-DISTRICT")
        assert "绑定成功" not in newcomer.text and "无效" in newcomer.text
        assert prepare(app) is False  # a restart does not bring the demo back
        assert _holdings(app) == (0, 0, 0)
        assert "无效" in _joins(app, "later", "DEMO-STAFF").text
    finally:
        app.engine.dispose()


def test_only_the_demo_org_itself_keeps_the_demo_on(
    sqlite_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    app = make_app(sqlite_url, tmp_path, clock)
    try:
        with app.sessions() as session:
            assert only_demo_org(session)
            import_org_file(session, DEMO_ORG)  # the demo's own file again: still only the demo
            assert only_demo_org(session)
            import_org_file(session, DATA / "org_good.yaml")
            assert not only_demo_org(session)
    finally:
        app.engine.dispose()


def test_linli_demo_0_starts_without_the_demo(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> None:
    app = make_app(sqlite_url, tmp_path, clock, LINLI_DEMO="0")
    try:
        assert app.extras["demo"] is False
        with app.sessions() as session:
            assert session.exec(select(func.count()).select_from(OrgNode)).one() == 0
    finally:
        app.engine.dispose()


@pytest.mark.parametrize(("switch", "loud"), [(None, True), ("0", False)])
def test_the_start_line_says_when_the_demo_is_on(tmp_path: Path, switch: str | None, loud: bool) -> None:
    env = {"LINLI_DEMO": switch} if switch else {}
    bot = BotProcess(tmp_path / "var", **env)
    bot.env.pop("DATABASE_URL", None)  # the embedded default
    if switch is None:
        bot.env.pop("LINLI_DEMO", None)
    bot.start()
    bot.stop()
    log = bot.log.read_text(encoding="utf-8")
    [line] = [row for row in log.splitlines() if row.startswith("Linli is running: ")]
    assert ("DEMO MODE" in line) is loud, line
    assert ("public demo codes" in line) is loud
    warnings = [row for row in log.splitlines() if " WARNING " in row and "DEMO MODE" in row]
    assert bool(warnings) is loud, log


@pytest.mark.parametrize("switch", ["1", "0"])
def test_the_web_chat_offers_the_demo_resident_only_while_the_demo_runs(
    sqlite_url: str, tmp_path: Path, clock: FixedClock, switch: str
) -> None:
    from fastapi.testclient import TestClient

    from bot.web import create_web_app

    app = make_app(sqlite_url, tmp_path, clock, LINLI_DEMO=switch)
    with TestClient(create_web_app(app)) as client:
        page = client.get("/chat").text
    assert ('id="demo-btn"' in page) is (switch == "1")
    app.engine.dispose()

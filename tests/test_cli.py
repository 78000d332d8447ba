"""The `linli` command as an operator uses it: help, import-org, invite, and bad settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.cli import build_parser
from bot.clock import FixedClock
from db.models import Home, Invite
from tests.conftest import TEST_KEYS, make_app
from tests.support.chat import ChatUser
from tests.support.cli import SETTINGS, run

DATA = Path(__file__).parent / "data"
LINLI = Path(sys.executable).parent / "linli"
COMMUNITY = "铁西区/北沟街道/英雄社区"
HOME_102 = f"{COMMUNITY}/阳光花园/1栋/1单元/102"


def count_homes(url: str) -> int:
    """Homes in the database behind `url`."""
    from db.engine import make_engine, session_factory

    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            return int(session.exec(select(func.count()).select_from(Home)).one())
    finally:
        engine.dispose()


# --- help ------------------------------------------------------------------------------------------


def test_top_level_help_lists_every_command() -> None:
    result = subprocess.run([str(LINLI), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("run", "migrate", "import-org", "invite"):
        assert command in result.stdout
    assert "start the bot" in result.stdout and "invite" in result.stdout


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("run", "web chat"),
        ("migrate", "migrations"),
        ("import-org", "nothing is changed"),
        ("invite", "invite code"),
    ],
)
def test_each_subcommand_help_says_what_it_does(
    command: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([command, "--help"])
    assert exit_.value.code == 0
    assert says in capsys.readouterr().out.replace("\n", " ")


# --- import-org ------------------------------------------------------------------------------------


def test_import_org_prints_counts(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["import-org", str(DATA / "org_good.yaml")], capsys)
    assert (status, err) == (0, "")
    assert "imported 5 homes and 2 grids" in out
    status, out, _ = run(["import-org", str(DATA / "org_good.csv")], capsys)
    assert status == 0 and "imported 5 homes and 2 grids" in out


def test_import_org_refuses_a_bad_file_with_its_line_and_imports_nothing(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = count_homes(env["DATABASE_URL"])
    bad = DATA / "org_bad.yaml"
    status, out, err = run(["import-org", str(bad)], capsys)
    assert status == 1 and out == ""
    assert err.startswith(f"linli: {bad}:14: ") and "two decimals" in err and "nothing was imported" in err
    assert len(err.strip().splitlines()) == 1
    assert count_homes(env["DATABASE_URL"]) == before


def test_import_org_of_a_missing_file_says_so(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(["import-org", str(tmp_path / "nope.yaml")], capsys)
    assert status == 2 and "no such file" in err


# --- invite ----------------------------------------------------------------------------------------


def test_tenant_invite_binds_one_new_user_and_only_once(
    env: dict[str, str], tmp_path: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(env["DATABASE_URL"], tmp_path, clock)  # loads the demo organisation
    try:
        status, out, err = run(["invite", HOME_102, "--role", "tenant"], capsys)
        assert (status, err) == (0, "")
        code = out.splitlines()[0].strip()
        assert f"/start {code}" in out and f"invite={code}" in out

        first = ChatUser(app.service, "cli-tenant-1", name="赵敏")
        first.say(f"/start {code}")
        assert "绑定成功" in first.text and "租户" in first.text and "阳光花园 1栋 1单元 102" in first.text

        second = ChatUser(app.service, "cli-tenant-2", name="钱进")
        second.say(f"/start {code}")
        assert "绑定成功" not in second.text and "无效" in second.text
    finally:
        app.engine.dispose()


def test_staff_invite_for_a_community(
    env: dict[str, str], tmp_path: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(env["DATABASE_URL"], tmp_path, clock)
    try:
        status, out, _ = run(["invite", COMMUNITY, "--role", "community_staff"], capsys)
        assert status == 0
        code = out.splitlines()[0].strip()
        with app.sessions() as session:
            invite = session.exec(select(Invite).where(Invite.code == code)).one()
            assert (invite.kind, invite.uses_left) == ("community_staff", 1)
        staff = ChatUser(app.service, "cli-staff-1", name="孙丽")
        staff.say(f"/start {code}")
        assert "绑定成功" in staff.text
    finally:
        app.engine.dispose()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["invite", f"{COMMUNITY}/阳光花园/1栋/1单元/909", "--role", "tenant"], "no home"),
        (["invite", "铁西区/南沟街道", "--role", "street_staff"], "no org node"),
        (["invite", "9" * 20, "--role", "owner"], "no home"),  # no id column holds it
        (["invite", "²", "--role", "owner"], "no home"),  # a digit to str.isdigit, not to int()
        # an owners' committee answers for its own compound only: granted higher up it could do nothing
        (["invite", "沈河区/五里河街道/青年社区", "--role", "owners_committee"], "on a compound"),
    ],
)
def test_invite_for_an_unknown_place_exits_1_with_a_clear_message(
    argv: list[str], says: str, env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["import-org", str(DATA / "org_good.yaml")], capsys)
    status, out, err = run(argv, capsys)
    assert status == 1 and out == ""
    assert says in err and argv[1] in err and len(err.strip().splitlines()) == 1


def test_invite_with_zero_uses_is_refused(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(["invite", HOME_102, "--uses", "0"], capsys)
    assert status == 2 and "--uses" in err and "at least 1" in err


# --- bad settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("WEB_PORT", "abc", "integer"),
        ("TIME_ZONE", "Mars/Base", "unknown time zone 'Mars/Base'"),
        ("DATABASE_URL", "mysql://x", "mysql:"),
        ("DEFAULT_LOCALE", "fr", "zh_CN or en"),
        ("WECHAT_APP_ID", "wx-not-an-id", "wx and 16 hex digits"),
        ("WECHAT_AES_KEY", "tooshort", "43-character EncodingAESKey"),
        ("WECOM_CORP_ID", "corp", "CorpID"),
        ("WECOM_AGENT_ID", "-1", "greater than or equal to 1"),
        ("WECHAT_API_BASE_URL", "api.weixin", "valid URL"),
    ],
)
def test_a_malformed_setting_stops_migrate_with_one_line_naming_it(
    name: str,
    value: str,
    says: str,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(name, value)
    status, out, err = run(["migrate"], capsys)
    assert status == 2 and out == ""
    [line] = err.strip().splitlines()
    assert line.startswith(f"linli: setting {name}: ") and says in line


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"WECHAT_APP_ID": "wx0123456789abcdef"}, "WECHAT_APP_ID and WECHAT_APP_SECRET must be set together"),
        (
            {"WECHAT_APP_ID": "wx0123456789abcdef", "WECHAT_APP_SECRET": "s" * 32},
            "WECHAT_TOKEN is required",
        ),
        ({"WECOM_CORP_ID": "ww0123456789abcdef"}, "must be set together"),
    ],
)
def test_half_a_platform_stops_the_start_with_one_line(
    settings: dict[str, str],
    says: str,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    status, _, err = run(["migrate"], capsys)
    assert status == 2
    [line] = err.strip().splitlines()
    assert line.startswith("linli: settings: ") and says in line


def test_a_malformed_setting_gives_no_traceback_from_the_installed_command(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    environ |= {
        "LINLI_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "WEB_PORT": "abc",
    }
    result = subprocess.run(
        [str(LINLI), "migrate"], capture_output=True, text=True, env=environ, cwd=tmp_path, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "linli: setting WEB_PORT: Input should be a valid integer, unable to parse string as an integer"
    ]


def test_a_plain_postgresql_url_uses_the_installed_driver(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.settings import load_settings

    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    for name, value in TEST_KEYS.items():
        monkeypatch.setenv(name, value)
    assert load_settings().db_url == "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def test_console_link_signs_in_the_first_admin_once(
    env: dict[str, str], tmp_path: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.console import client

    app = make_app(env["DATABASE_URL"], tmp_path, clock)
    try:
        ChatUser(app.service, "cli-staff-2", name="钱主任").say("/start DEMO-STAFF")
        ChatUser(app.service, "cli-owner-2", name="孙阿姨").say("/start DEMO-OWNER")
        status, out, err = run(["console-link", "钱主任"], capsys)
        assert status == 0, err
        link = out.strip()
        assert "/console/signin?t=" in link and "once" in err
        token = link.split("t=", 1)[1]
        browser = client(app)
        assert browser.post("/console/signin", data={"t": token}).status_code == 303
        assert browser.get("/console").status_code == 200
        assert client(app).post("/console/signin", data={"t": token}).status_code == 403  # used
        for who, says in (
            ("孙阿姨", "no staff"),
            ("无此人", "no person"),
            ("²", "no person"),
            ("9" * 30, "no person"),
        ):
            status, _, err = run(["console-link", who], capsys)
            assert status == 1 and says in err, (who, err)
    finally:
        app.engine.dispose()

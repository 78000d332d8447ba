"""Invites bound to a WeCom member: made by `linli invite --wecom-userid` or by a grid's `wecom_userid` in
the organisation file, used by that member alone, once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.bootstrap import App
from bot.cli import main
from bot.clock import FixedClock
from db import people
from db.models import Grid, Invite
from db.org import ImportError_, import_org_file
from tests.conftest import make_app
from tests.support.chat import ChatUser

DATA = Path(__file__).parent / "data"
COMMUNITY = "铁西区/北沟街道/英雄社区"
GRID_FILE = """
district: 沈河区
streets:
  - name: 五里河街道
    communities:
      - name: 青年社区
        compounds:
          - name: 青年公寓
            buildings:
              - name: 1号楼
                entrances:
                  - name: 1单元
                    homes:
                      - {number: "101", area: 80}
        grids:
          - name: 青年第一网格
            buildings: [青年公寓/1号楼]
            wecom_userid: WangWu
"""


@pytest.fixture
def cli_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str, clock: FixedClock) -> App:
    """The app on a fresh database, and the CLI's environment pointing at the same database."""
    for name in ("DATABASE_URL", "LINLI_VAR_DIR", "TELEGRAM_BOT_TOKEN", "LINLI_DEMO", "WECOM_CORP_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("LINLI_VAR_DIR", str(tmp_path / "var"))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return make_app(sqlite_url, tmp_path, clock)


def invite_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        status = main(["invite", *argv])
    except SystemExit as exc:
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def wecom_user(app: App, userid: str) -> ChatUser:
    """A WeCom member as the channel hands their messages to the service."""
    return ChatUser(app.service, userid, channel="wecom", name=userid)


def test_the_cli_binds_an_invite_to_a_member_who_alone_may_use_it_once(
    cli_app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [COMMUNITY, "--role", "grid_worker", "--grid", "英雄社区第二网格", "--wecom-userid", "LiuWang"]
    status, out, _ = invite_cli(argv, capsys)
    assert status == 0
    code, how = out.splitlines()
    assert how == "WeCom: bound to member LiuWang; their first message in the app joins them"
    with cli_app.sessions() as session:
        invite = session.exec(select(Invite).where(Invite.code == code)).one()
        assert (invite.wecom_userid, invite.uses_left, invite.kind) == ("LiuWang", 1, "grid_worker")
    other = ChatUser(cli_app.service, "web-1", name="某人")
    other.say(f"/start {code}")  # the code alone is not enough: it belongs to one WeCom member
    assert "绑定成功" not in other.text
    member = wecom_user(cli_app, "LiuWang")
    member.say(f"/start {code}")
    assert "绑定成功" in member.text and "英雄社区第二网格" in member.text
    with cli_app.sessions() as session:
        assert people.wecom_invite(session, "LiuWang", cli_app.clock.now()) is None  # used


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        ([COMMUNITY, "--role", "community_staff", "--wecom-userid", "Liu Wang"], "not a WeCom userid"),
        ([COMMUNITY, "--role", "community_staff", "--wecom-userid", "x", "--uses", "3"], "used once"),
    ],
)
def test_the_cli_refuses_a_bad_userid_or_several_uses(
    cli_app: App, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    status, out, err = invite_cli(argv, capsys)
    assert status == 2 and out == "" and says in err
    with cli_app.sessions() as session:
        assert session.exec(select(Invite).where(col(Invite.wecom_userid).is_not(None))).all() == []


def test_a_grid_in_the_org_file_binds_its_worker_once(app: App, tmp_path: Path) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(GRID_FILE, encoding="utf-8")
    for _ in range(2):  # importing the file again binds nobody twice
        with app.sessions() as session:
            import_org_file(session, path, app.clock.now())
            session.commit()
    with app.sessions() as session:
        [invite] = session.exec(select(Invite).where(Invite.wecom_userid == "WangWu")).all()
        grid = session.exec(select(Grid).where(Grid.name == "青年第一网格")).one()
        assert (invite.kind, invite.grid_id, invite.uses_left) == ("grid_worker", grid.id, 1)
    member = wecom_user(app, "WangWu")
    member.say(f"/start {invite.code}")
    assert "绑定成功" in member.text and "青年第一网格" in member.text
    with app.sessions() as session:
        grid = session.exec(select(Grid).where(Grid.name == "青年第一网格")).one()
        assert grid.worker_id is not None


def test_a_bad_wecom_userid_in_the_org_file_names_its_line(app: App, tmp_path: Path) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(GRID_FILE.replace("wecom_userid: WangWu", "wecom_userid: 王 五"), encoding="utf-8")
    with app.sessions() as session, pytest.raises(ImportError_) as raised:
        import_org_file(session, path)
    assert raised.value.line == 18 and "wecom_userid" in raised.value.reason


def test_a_file_that_names_another_worker_withdraws_the_first_ones_unused_binding(
    app: App, tmp_path: Path
) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(GRID_FILE, encoding="utf-8")
    with app.sessions() as session:
        import_org_file(session, path, app.clock.now())
        session.commit()
        [first] = session.exec(select(Invite).where(Invite.wecom_userid == "WangWu")).all()
    path.write_text(GRID_FILE.replace("wecom_userid: WangWu", "wecom_userid: ZhaoLiu"), encoding="utf-8")
    with app.sessions() as session:
        import_org_file(session, path, app.clock.now())
        session.commit()
    member = wecom_user(app, "WangWu")
    member.say(f"/start {first.code}")
    assert "绑定成功" not in member.text  # the corrected file names someone else
    successor = wecom_user(app, "ZhaoLiu")
    with app.sessions() as session:
        [second] = session.exec(select(Invite).where(Invite.wecom_userid == "ZhaoLiu")).all()
    successor.say(f"/start {second.code}")
    assert "绑定成功" in successor.text and "青年第一网格" in successor.text

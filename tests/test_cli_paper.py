"""`linli poll sheets | stubs | ballots`: the printable ballot (a page per home, in the poll's scope or one
building), a secret poll's stubs (N unique codes, only hashes kept; open polls refused), and a CSV of paper
ballots taken whole or not at all, every bad line named by its number."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.bootstrap import App
from bot.clock import FixedClock
from db.models import PollPaper, PollStub, PollTurnout
from tests.conftest import make_app
from tests.support.chat import ChatUser
from tests.support.cli import run
from tests.test_polls_flow import make_poll, person_of

ZONE = ZoneInfo("Asia/Shanghai")
SHEET = re.compile(r'<section class="sheet[^"]*" data-home="(\d+)"')
TICKET = re.compile(r'<section class="ticket" data-code="([^"]+)"')


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str, clock: FixedClock) -> Iterator[App]:
    """The app and the environment `linli` reads on one database, the test's clock at the real time (the
    command reads the system clock: its polls must be open now)."""
    for name in ("DATABASE_URL", "LINLI_VAR_DIR", "TIME_ZONE", "TELEGRAM_BOT_TOKEN", "LINLI_DEMO"):
        monkeypatch.delenv(name, raising=False)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("LINLI_VAR_DIR", str(tmp_path / "var"))
    clock.current = datetime.now(UTC) - timedelta(hours=6)
    app = make_app(sqlite_url, tmp_path, clock)
    yield app
    app.engine.dispose()


def rows(app: App, model: type) -> list:  # type: ignore[type-arg]
    with app.sessions() as session:
        return list(session.exec(select(model)).all())


# --- the printable ballot ----------------------------------------------------------------------------


def test_sheets_print_one_page_per_home_of_the_scope(
    cli: App, clock: FixedClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    poll_id = make_poll(cli, clock, buildings=("1栋",), secret=False)
    out = tmp_path / "sheets.html"
    status, said, err = run(["poll", "sheets", str(poll_id), "--out", str(out)], capsys)
    assert (status, err) == (0, ""), err
    assert said.strip() == f"wrote 12 ballot pages of poll #{poll_id} (1栋) to {out}"
    page = out.read_text(encoding="utf-8")
    homes = SHEET.findall(page)
    assert len(homes) == len(set(homes)) == 12
    # An A4 page each, in large type, readable when printed from the file alone (the style is inside).
    assert "@page { size: A4" in page and "page-break-after: always" in page and "<link" not in page
    for entrance in ("1单元", "2单元"):
        for number in ("101", "102", "201", "202", "301", "302"):
            assert f"1栋 {entrance} {number} 室" in page
    assert "76.80 ㎡" in page and "143.20 ㎡" in page
    assert "第（四）项 选聘和解聘物业服务企业或者其他管理人（《民法典》第二百七十八条）" in page
    assert "续聘阳光物业" in page and "是否续聘阳光物业服务有限公司，合同三年。" in page
    assert page.count('<span class="box"') == 3 * 12  # 同意 / 反对 / 弃权 with a box each, on every page
    assert "同意" in page and "反对" in page and "弃权" in page
    with cli.sessions() as session:
        from db.models import Poll

        poll = session.get(Poll, poll_id)
        assert poll is not None
        closes = poll.closes_at.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")
    assert f"截止时间：{closes}" in page
    assert page.count("业主签名：") == 12 and page.count("日期：") == 12


def test_sheets_of_one_building_and_of_a_secret_election(
    cli: App, clock: FixedClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    poll_id = make_poll(
        cli,
        clock,
        kind="election",
        matter=3,
        candidates=("张伟", "王秀英", "李娜"),
        seats=2,
        title="选举业委会",
    )
    out = tmp_path / "b2.html"
    status, said, err = run(["poll", "sheets", f"#{poll_id}", "--out", str(out), "--building", "2栋"], capsys)
    assert status == 0, err
    assert said.startswith("wrote 12 ballot pages") and "(2栋)" in said
    page = out.read_text(encoding="utf-8")
    assert len(SHEET.findall(page)) == 12 and "1栋" not in page and "2栋 2单元 302 室" in page
    # A secret poll's page is the envelope's cover and notice: the options without boxes, how to seal.
    assert "选票信封封面" in page and "装进这个信封封好" in page and "回执码" in page
    assert "最多选 2 人" in page and "1. 张伟" in page and "3. 李娜" in page
    assert '<span class="box"' not in page
    assert "交回信封的业主签名" in page

    status, _, err = run(["poll", "sheets", str(poll_id), "--out", str(out), "--building", "9栋"], capsys)
    assert status == 1 and "has no building '9栋'" in err and "1栋、2栋、3栋" in err
    status, _, err = run(["poll", "sheets", "99", "--out", str(out)], capsys)
    assert status == 1 and err.strip() == "linli: no poll #99"


def test_sheets_in_english(
    cli: App, clock: FixedClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    poll_id = make_poll(cli, clock, buildings=("3栋",), secret=False, matter=7)
    out = tmp_path / "en.html"
    status, _, err = run(["poll", "sheets", str(poll_id), "--out", str(out), "--locale", "en"], capsys)
    assert status == 0, err
    page = out.read_text(encoding="utf-8")
    assert '<html lang="en">' in page and len(SHEET.findall(page)) == 12
    assert "Owners&#39; assembly ballot" in page and "3栋 1单元 No. 101" in page and "76.80 ㎡" in page
    assert "Civil Code Art. 278, item (7): rebuilding or reconstructing" in page
    assert "three quarters" in page  # a special matter's rule
    assert "Owner&#39;s signature" in page and "Tick one box (one choice only)" in page


# --- stubs -------------------------------------------------------------------------------------------


def test_stubs_issue_unique_codes_and_keep_only_their_hashes(
    cli: App, clock: FixedClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    poll_id = make_poll(cli, clock, buildings=("1栋",))
    out = tmp_path / "stubs.html"
    status, said, err = run(["poll", "stubs", str(poll_id), "--out", str(out), "--count", "5"], capsys)
    assert (status, err) == (0, ""), err
    assert said.strip() == f"issued 5 receipt codes for poll #{poll_id}; the ballots and stubs are in {out}"
    page = out.read_text(encoding="utf-8")
    codes = TICKET.findall(page)
    assert len(codes) == len(set(codes)) == 5
    for code in codes:
        assert page.count(f'<code class="code">{code}</code>') == 2  # on the stub and on the ballot
    assert page.count("存根（业主保存）") == 5 and page.count("选票（装入信封）") == 5
    assert page.count("专有部分面积 ________ ㎡") == 5 and page.count('class="cut"') == 5
    assert "投票结束后可在 /polls 查验回执" in page and "border-top: 1.5pt dashed" in page
    stored = rows(cli, PollStub)
    assert len(stored) == 5 and not {s.code_hash for s in stored} & set(codes)

    # Without --count: one for each home in scope.
    status, said, _ = run(["poll", "stubs", str(poll_id), "--out", str(out)], capsys)
    assert status == 0 and said.startswith("issued 12 receipt codes")
    again = TICKET.findall(out.read_text(encoding="utf-8"))
    assert len(set(again)) == 12 and not set(again) & set(codes)
    assert len(rows(cli, PollStub)) == 17


def test_stubs_are_refused_for_an_open_poll(
    cli: App, clock: FixedClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    poll_id = make_poll(cli, clock, secret=False)
    out = tmp_path / "stubs.html"
    status, said, err = run(["poll", "stubs", str(poll_id), "--out", str(out)], capsys)
    assert status == 1 and said == ""
    assert err.strip() == f"linli: poll #{poll_id}: 这是记名表决，不使用回执码存根；存根只用于不记名投票。"
    assert not out.exists() and rows(cli, PollStub) == []
    status, _, err = run(["poll", "stubs", str(poll_id), "--out", str(out), "--count", "0"], capsys)
    assert status == 2 and "must be at least 1" in err
    secret = make_poll(cli, clock)
    status, _, err = run(["poll", "stubs", str(secret), "--out", str(tmp_path / "no" / "stubs.html")], capsys)
    assert status == 2 and "no such folder" in err and rows(cli, PollStub) == []


# --- a CSV of paper ballots --------------------------------------------------------------------------


def local(moment: datetime) -> str:
    return moment.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")


HEADER = "building,entrance,number,choice,method,collector,collected_at,photo\n"


def test_a_csv_with_bad_lines_names_each_and_enters_nothing(
    cli: App, clock: FixedClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    poll_id = make_poll(cli, clock, secret=False)
    at = local(clock.now() + timedelta(hours=1))
    path = tmp_path / "ballots.csv"
    path.write_text(
        HEADER
        + f"1栋,1单元,101,同意,扫楼,赵委员,{at},101.jpg\n"  # line 2: good
        + f"9栋,1单元,101,同意,扫楼,赵委员,{at},\n"  # line 3: no such building
        + f"1栋,1单元,102,也许,扫楼,赵委员,{at},\n"  # line 4: not a choice
        + f"1栋,1单元,201,反对,电话,赵委员,{at},\n"  # line 5: not a method
        + f"1栋,1单元,202,弃权,现场,赵委员,{at},\n",  # line 6: good
        encoding="utf-8",
    )
    status, said, err = run(["poll", "ballots", str(poll_id), str(path)], capsys)
    assert status == 1 and said == ""
    lines = err.strip().splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == ["line 3", "line 4", "line 5"], err
    assert lines[1].startswith("line 4: 选择无效")
    assert lines[2].startswith("line 5: 收票方式无效：请写 扫楼、现场或投票箱。")
    assert lines[-1] == f"linli: {path}: nothing was entered"
    assert rows(cli, PollPaper) == [] and rows(cli, PollTurnout) == []


def test_a_good_csv_enters_every_ballot_as_paper(
    cli: App, clock: FixedClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    poll_id = make_poll(cli, clock, secret=False)
    member = ChatUser(cli.service, "committee-1", name="赵委员")
    member.say("/start DEMO-COMMITTEE")
    by = person_of(cli, "committee-1")
    at = local(clock.now() + timedelta(hours=1))
    path = tmp_path / "ballots.csv"
    path.write_bytes(
        (
            HEADER
            + f"1栋,1单元,101,同意,扫楼,赵委员,{at},101.jpg\n"
            + f"1栋,1单元,102,no,door,赵委员,{at},\n"
            + f"2栋,2单元,302,弃权,投票箱,钱委员,{at},\n"
        ).encode("utf-8-sig")  # as a spreadsheet saves it, with a BOM
    )
    status, said, err = run(["poll", "ballots", str(poll_id), str(path), "--by", str(by)], capsys)
    assert (status, err) == (0, ""), err
    assert said.strip() == f"entered 3 paper ballots for poll #{poll_id}"
    papers = rows(cli, PollPaper)
    assert len(papers) == 3 and {p.method for p in papers} == {"door", "box"}
    assert {p.source for p in papers} == {"file"} and {p.entered_by for p in papers} == {by}
    assert [t.channel for t in rows(cli, PollTurnout)] == ["paper"] * 3

    # The same homes again: refused whole, one ballot per home, nothing more entered.
    status, _, err = run(["poll", "ballots", str(poll_id), str(path), "--by", str(by)], capsys)
    assert status == 1 and "line 2: 这套房屋的业主已经投过票" in err and "nothing was entered" in err
    assert len(rows(cli, PollPaper)) == 3


def test_ballots_of_a_missing_file_or_poll_say_so(
    cli: App, clock: FixedClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(["poll", "ballots", "1", str(tmp_path / "none.csv")], capsys)
    assert status == 2 and "no such file" in err
    path = tmp_path / "latin.csv"
    path.write_bytes(HEADER.encode() + "1栋".encode("gb18030") + b",1\xb5\n")
    status, _, err = run(["poll", "ballots", "1", str(path)], capsys)
    assert status == 1 and "line 1: 文件须是 UTF-8 编码的 CSV。" in err
    path.write_text(HEADER, encoding="utf-8")
    status, _, err = run(["poll", "ballots", "1", str(path), "--by", "4242"], capsys)
    assert status == 2 and "--by '4242': no person with that id" in err

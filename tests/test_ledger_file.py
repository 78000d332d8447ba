"""`linli ledger file`: a statement from a YAML or CSV file, taken whole or not at all (DESIGN §4.4)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.bootstrap import App
from bot.clock import FixedClock
from db.ledger.tables import LedgerLine, LedgerStatement
from db.models import AuditEntry, Notice
from tests.conftest import make_app
from tests.support.cli import run

COMPOUND = "铁西区/北沟街道/英雄社区/阳光花园"
COMPANY = "阳光物业服务有限公司"


@pytest.fixture
def cli_app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str, clock: FixedClock
) -> Iterator[App]:
    """The app and the environment `linli` reads, on the same fresh database."""
    for name in ("DATABASE_URL", "LINLI_VAR_DIR", "TIME_ZONE", "TELEGRAM_BOT_TOKEN", "LINLI_DEMO"):
        monkeypatch.delenv(name, raising=False)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("LINLI_VAR_DIR", str(tmp_path / "var"))
    app = make_app(sqlite_url, tmp_path, clock)
    yield app
    app.engine.dispose()


def count(app: App, model: type) -> int:
    with app.sessions() as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


GOOD = f"""\
compound: {COMPOUND}
period: 2026Q3
filer: {COMPANY}
author: 王会计
opening:
  income: "1000.00"
lines:
  - {{category: service_fee, amount: "120000.50", note: 物业服务费 7-9 月}}
  - {{category: parking, amount: 3456.7, note: 地面车位}}
  - {{category: cleaning, side: expense, amount: "8000", note: 外包保洁}}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_is_filed_as_a_draft_and_published_with_publish(
    cli_app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(["ledger", "file", str(write(tmp_path, "q3.yaml", GOOD))], capsys)
    assert status == 0, err
    assert "statement #1 (2026Q3, version 1, draft): 3 lines" in out
    assert "income 123,457.20, expense 8,000.00 yuan" in out
    assert "common-part income balance 116,457.20 yuan" in out  # 1000 + 123457.20 − 8000
    with cli_app.sessions() as session:
        amounts = session.exec(select(LedgerLine.amount_fen).order_by(LedgerLine.seq)).all()
        statement = session.get(LedgerStatement, 1)
        assert statement is not None and statement.author_name == "王会计"
        assert statement.opening_income_fen == 100000
    assert amounts == [12000050, 345670, 800000]
    assert count(cli_app, Notice) == 0
    # Filing the same compound, period and filer again is refused: the draft is there already
    status, _, err = run(["ledger", "file", str(write(tmp_path, "q3.yaml", GOOD)), "--publish"], capsys)
    assert status == 1 and "already filed" in err


def test_publish_then_correct_keeps_both_versions(
    cli_app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "q3.yaml", GOOD)
    status, out, err = run(["ledger", "file", str(path), "--publish"], capsys)
    assert status == 0, err
    assert "published as notice #" in out
    fixed = GOOD.replace('amount: "8000"', 'amount: "7800"')
    status, _, err = run(
        ["ledger", "file", str(write(tmp_path, "fix.yaml", fixed)), "--corrects", "1"], capsys
    )
    assert status == 1 and "--note" in err
    status, out, err = run(
        [
            "ledger",
            "file",
            str(tmp_path / "fix.yaml"),
            "--corrects",
            "1",
            "--note",
            "保洁费以发票为准",
            "--publish",
        ],
        capsys,
    )
    assert status == 0, err
    assert "statement #2 (2026Q3, version 2, published)" in out
    with cli_app.sessions() as session:
        first, second = session.get(LedgerStatement, 1), session.get(LedgerStatement, 2)
        assert first is not None and second is not None
        assert first.state == second.state == "published"
        assert second.supersedes == 1 and second.change_note == "保洁费以发票为准"
        old = session.exec(select(LedgerLine.amount_fen).where(LedgerLine.statement_id == 1)).all()
        notice = session.get(Notice, second.notice_id)
        actions = session.exec(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert 800000 in old  # the published version was not touched
    assert notice is not None and notice.kind == "fees" and "更正" in notice.title
    assert "修改 1 行" in notice.body and "/accounts" in notice.body
    assert [a for a in actions if a.startswith("ledger.")] == [
        "ledger.draft",
        "ledger.publish",
        "ledger.correct",
        "ledger.publish",
    ]


def test_bad_lines_are_named_and_nothing_is_filed(
    cli_app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = GOOD + (
        '  - {category: rent, amount: "12.345"}\n'
        '  - {category: lottery, amount: "10"}\n'
        '  - {category: parking, side: expense, amount: "10"}\n'
        '  - {category: fund_use, amount: "10", project: 电梯}\n'
        '  - {category: ads, amount: "-5"}\n'
    )
    status, out, err = run(["ledger", "file", str(write(tmp_path, "bad.yaml", bad)), "--publish"], capsys)
    assert status == 1 and out == ""
    assert "line 4: the amount must be a positive number of yuan with at most 2 decimals" in err
    assert "line 5: unknown category" in err
    assert "line 6: the side is not the category's" in err
    assert "line 7: the category belongs to the other filer" in err
    assert "line 8: the amount must be" in err
    assert "line 1:" not in err and "nothing was filed" in err
    assert count(cli_app, LedgerStatement) == count(cli_app, LedgerLine) == count(cli_app, Notice) == 0


def test_amounts_in_another_form_than_plain_yuan_are_named_by_line(
    cli_app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = GOOD + (
        '  - {category: rent, amount: "1e3"}\n'
        '  - {category: rent, amount: "1e999997"}\n'
        "  - {category: rent, amount: 1e1000000}\n"
        '  - {category: rent, amount: "NaN"}\n'
        '  - {category: rent, amount: "-5"}\n'
    )
    status, out, err = run(["ledger", "file", str(write(tmp_path, "bad.yaml", bad))], capsys)
    assert status == 1 and out == ""
    for number in range(4, 9):
        assert f"line {number}: the amount must be a positive number of yuan with at most 2 decimals" in err
    assert count(cli_app, LedgerStatement) == count(cli_app, LedgerLine) == 0
    grouped = GOOD.replace('amount: "8000"', 'amount: "12,345.6"')
    status, out, err = run(["ledger", "file", str(write(tmp_path, "q3.yaml", grouped))], capsys)
    assert status == 0, err
    with cli_app.sessions() as session:
        amounts = session.exec(select(LedgerLine.amount_fen).order_by(LedgerLine.seq)).all()
    assert amounts == [12000050, 345670, 1234560]


def test_a_csv_of_lines_with_its_row_numbers(
    cli_app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = "category,amount,note,project,poll\nfund_interest,321.09,利息,,\nfund_use,5000,,,\n"
    path = write(tmp_path, "fund.csv", csv)
    args = ["ledger", "file", str(path), "--compound", COMPOUND, "--period", "2026Q3", "--filer", "committee"]
    status, _, err = run(args, capsys)
    assert status == 1 and "line 3: a maintenance fund expense must name its project" in err
    assert count(cli_app, LedgerStatement) == 0
    path.write_text(csv.replace("fund_use,5000,,,", "fund_use,5000,,1栋电梯更换,"), encoding="utf-8")
    status, out, err = run([*args, "--opening-fund", "100000"], capsys)
    assert status == 0, err
    assert "maintenance fund balance 95,321.09 yuan" in out


def test_a_yaml_pointing_at_a_csv_and_the_file_errors(
    cli_app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "lines.csv", "category,amount\nparking,100\n")
    spec = f"compound: {COMPOUND}\nperiod: 2026Q3\nfiler: {COMPANY}\nlines_csv: lines.csv\n"
    status, out, err = run(["ledger", "file", str(write(tmp_path, "q.yaml", spec))], capsys)
    assert status == 0, err
    assert "1 lines" in out
    wrong = spec.replace(COMPANY, "别家物业").replace("2026Q3", "2026Q2")
    status, _, err = run(["ledger", "file", str(write(tmp_path, "w.yaml", wrong))], capsys)
    assert status == 1 and "filer: no property company named '别家物业'" in err
    status, _, err = run(
        ["ledger", "file", str(write(tmp_path, "p.yaml", spec.replace("2026Q3", "2026Q9")))], capsys
    )
    assert status == 1 and "period:" in err
    status, _, err = run(
        ["ledger", "file", str(write(tmp_path, "c.yaml", spec.replace("阳光花园", "1栋")))], capsys
    )
    assert status == 1 and "compound:" in err
    assert count(cli_app, LedgerStatement) == 1


def test_help_documents_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["ledger", "file", "--help"], capsys)
    assert status == 0
    for word in ("compound", "period", "filer", "lines_csv", "--publish", "--corrects", "line N: reason"):
        assert word in out

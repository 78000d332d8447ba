"""`linli rating`: the half-year's ranking of property companies printed and written as CSV, every
indicator with its inputs; bad arguments get a clear message."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.bootstrap import App
from tests.support.cli import run
from tests.support.companies import company_serving
from tests.support.evaluation import PEACE, SUNSHINE, add_ticket


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, app: App, sqlite_url: str) -> App:
    """The CLI on the app's database (the demo org, its company serving 阳光花园)."""
    for name in ("DATABASE_URL", "LINLI_VAR_DIR", "LINLI_DEMO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LINLI_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    return app


def test_the_ranking_is_printed_and_written_as_csv_with_every_input(
    env: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    company_serving(env, '=HYPERLINK("x")物业', PEACE)  # a hostile name stays text in the sheet
    at = datetime(2026, 8, 3, 2, 0, tzinfo=UTC)
    add_ticket(env, SUNSHINE, "elevator", at, state="new")  # overdue: accept and resolve missed
    add_ticket(
        env, SUNSHINE, "water", at, state="closed", rating="satisfied",
        accepted_at=at + timedelta(minutes=5), resolved_at=at + timedelta(hours=5),
    )  # fmt: skip
    out_file = tmp_path / "rating.csv"
    status, out, err = run(["rating", "--half", "2026h2", "--out", str(out_file)], capsys)
    assert status == 0, err
    assert "2026H2: 2 companies, best first" in out
    assert "  1. =HYPERLINK" in out and "no cases" in out
    assert "  2. 阳光物业服务有限公司  C  57.50  (base 57.50 + good 0.00 − bad 0; 2 tickets)" in out
    assert "response 1/2=5.00" in out and "survey 0/0=5.00 (empty)" in out
    raw = out_file.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert [r["company"] for r in rows] == ['\'=HYPERLINK("x")物业', "阳光物业服务有限公司"]
    sunshine = rows[1]
    assert (sunshine["place"], sunshine["grade"], sunshine["total"], sunshine["tickets"]) == (
        "2",
        "C",
        "57.50",
        "2",
    )
    assert (sunshine["overdue_numerator"], sunshine["overdue_denominator"], sunshine["overdue_points"]) == (
        "1",
        "2",
        "5.00",
    )
    assert sunshine["satisfaction_points"] == "15.00" and sunshine["no_cases"] == "no"


def test_a_node_limits_the_ranking(env: App, capsys: pytest.CaptureFixture[str]) -> None:
    company_serving(env, "安居物业", PEACE)
    status, out, _ = run(["rating", "--half", "2026H2", "--node", SUNSHINE], capsys)
    assert status == 0 and "阳光物业服务有限公司" in out and "安居物业" not in out
    status, out, _ = run(["rating", "--half", "2025H1"], capsys)
    assert status == 0 and "no company served a compound here in 2025H1" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["rating", "--half", "2026Q3"], "must look like 2026H1 or 2026H2"),
        (["rating", "--half", "2026H2", "--node", "铁西区/没有这个街道"], "no org node"),
        (["rating", "--policy", "missing.yaml"], "missing.yaml"),
    ],
)
def test_bad_arguments_are_explained(
    env: App, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, _, err = run(argv, capsys)
    assert status != 0 and message in err

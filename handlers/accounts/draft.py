"""What /accounts keeps between turns: the line a resident is asking about, or the statement a filer is
writing (compound, period, lines typed so far), in the conversation state."""

from __future__ import annotations

from pydantic import BaseModel, Field

from handlers.flows import Draft

FLOW_NAME = "accounts"
# The steps of asking about a line, and of filing a statement.
ASKING = ("pick", "ask")
FILING = (
    "compound",
    "period",
    "category",
    "amount",
    "project",
    "note",
    "voucher",
    "lines",
    "edit",
    "change_note",
)


class TypedLine(BaseModel):
    """A line the filer has given: its side and category, its amount in fen, note and voucher photo."""

    side: str
    category: str
    amount_fen: int
    note: str = ""
    project: str = ""  # a maintenance fund expense names the project it paid for
    photo: tuple[str, str] | None = None  # channel, file reference


class Accounts(Draft):
    """The draft of /accounts: a question about a line, or a statement being filed or corrected."""

    statement: int | None = None  # asking: the statement open; correcting: the version corrected
    line: int | None = None  # asking: the line the question is about
    compound: int | None = None
    filer: str = ""  # company | committee
    period: str = ""  # as core.ledger reads it: 2026Q3, 2026H2, 2026-07 …
    lines: list[TypedLine] = Field(default_factory=list)
    category: str = ""  # the line being typed: its category, then its amount and note
    amount_fen: int | None = None
    note: str = ""
    project: str = ""
    editing: int | None = None  # the index of a line whose amount is typed again
    correcting: int | None = None  # the published version a correction supersedes
    version: int = 0  # the version corrected (shown)

    def totals(self) -> tuple[int, int]:
        """Income and expense of the lines typed so far, in fen."""
        income = sum(x.amount_fen for x in self.lines if x.side == "income")
        return income, sum(x.amount_fen for x in self.lines if x.side == "expense")

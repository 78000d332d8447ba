"""/rating: 物业评价 (DESIGN §4.5). Street, district and community staff see the ranking of the companies
in their jurisdiction for the current half-year and open a company's breakdown (every indicator with its
inputs); a company's staff see only their own breakdown and records. Street and district staff enter
good and bad records with evidence and decide appeals; a company appeals a record once; the street
publishes the 红黑榜.

Presses (`Rating`, family "rt"; every id is checked again by the use cases in core/evaluation.py and
core/rating_board.py):

- `h` the first page again; `c` a company's breakdown; `r` its records; `v` one record
- `n` a new record, then `nc` company, `np` compound, `nk` good or bad, `nn` points, `ns` no photo (good
  records only), `ok` enter it; `x` cancel
- `a` appeal a record (the reason is typed); `d` decide an appeal, `du` upheld or not (the note is typed)
- `b` preview the 红黑榜, `bok` publish it
"""

from __future__ import annotations

from collections.abc import Callable

from core.actions import Rating
from db.conversations import State
from handlers.common import given, stale
from handlers.context import Context
from handlers.flows import Command, Flow
from handlers.rating import board, entry, pages
from handlers.rating.draft import NAME
from handlers.types import Reply

__all__ = ["FLOW"]

PRESSES: dict[str, Callable[[Context, Rating], list[Reply]]] = {
    "h": lambda ctx, _: pages.show(ctx),
    "c": lambda ctx, press: [pages.company_page(ctx, given(press.company), pages.half_of(ctx))],
    "r": lambda ctx, press: [pages.records_page(ctx, given(press.company), pages.half_of(ctx))],
    "v": lambda ctx, press: [pages.record_page(ctx, given(press.record))],
    "n": lambda ctx, _: entry.start(ctx),
    "nc": entry.chose_company,
    "np": entry.chose_compound,
    "nk": entry.chose_kind,
    "nn": entry.chose_points,
    "ns": entry.no_photo,
    "ok": entry.enter,
    "x": entry.cancel,
    "a": entry.appeal,
    "d": entry.decide,
    "du": entry.decided,
    "b": board.preview,
    "bok": board.publish,
}
ENTRY_STEPS = frozenset({"compound", "kind", "points", "reason", "evidence", "confirm"})


def keeps(state: State) -> bool:
    """A record being entered is worth keeping once its company is chosen; a preview or an appeal not yet
    typed holds nothing the person gave."""
    return state.step in ENTRY_STEPS


def on_press(ctx: Context, press: Rating) -> list[Reply]:
    """A /rating press."""
    action = PRESSES.get(press.verb)
    return action(ctx, press) if action is not None else [stale()]


FLOW = Flow(
    NAME,
    # Not `members_only`: a company's staff hold no role grant of their own (their grants come from the
    # company's contracts), and /rating answers a visitor who has not joined itself.
    {"/rating": Command(pages.show, leaves_flow=True)},
    Rating,
    on_press,
    entry.on_text,
    resume=entry.resume,
    keeps=keeps,
    text_limit=entry.MAX_APPEAL,
)

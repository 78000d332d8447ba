"""The draft /rating keeps between turns: a record being entered, an appeal or a decision being typed."""

from __future__ import annotations

from handlers.flows import Draft

NAME = "rating"


class RatingDraft(Draft):
    """What the person gave so far: for a new record its company, compound, kind, points, reason and
    evidence photo; for an appeal or a decision the record and (deciding) whether it is upheld."""

    company: int = 0
    compound: int = 0
    good: bool | None = None
    points: int = 0
    reason: str = ""
    channel: str = ""  # where the evidence photo came in
    photo: str = ""  # its reference there
    record: int = 0
    upheld: bool | None = None

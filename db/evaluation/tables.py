"""The tables of Property-company evaluation: good and bad records with their appeal, and the owners'
satisfaction survey with one answer row per home (DESIGN §4.5)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.models import _time


class CompanyRecord(SQLModel, table=True):
    """A good or bad record (良好/不良记录) of a company in one compound, entered by street or district
    staff with a reason and evidence; the company may appeal it once and staff decide."""

    __tablename__ = "company_record"
    __table_args__ = (Index("ix_company_record_company_half", "company_id", "half"),)

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="property_company.id")
    compound_id: int = Field(foreign_key="org_node.id", index=True)
    half: str = Field(max_length=6)  # the half-year it counts in: 2026H1 | 2026H2
    kind: str = Field(max_length=4)  # good | bad
    points: int  # > 0; within the policy's range for the kind
    reason: str = Field(max_length=500)
    evidence_channel: str = Field(default="", max_length=16)
    evidence_ref: str = Field(default="", max_length=200)  # a photo (required for a bad record)
    entered_by: int | None = Field(default=None, foreign_key="person.id")
    entered_at: datetime = _time(nullable=False)
    # The company's one appeal, and the staff decision on it: upheld removes the record from the score.
    appeal_text: str = Field(default="", max_length=1000)
    appealed_by: int | None = Field(default=None, foreign_key="person.id")
    appealed_at: datetime | None = _time(nullable=True)
    decision: str = Field(default="", max_length=8)  # "" | upheld | rejected
    decision_note: str = Field(default="", max_length=500)
    decided_by: int | None = Field(default=None, foreign_key="person.id")
    decided_at: datetime | None = _time(nullable=True)


class Survey(SQLModel, table=True):
    """The owners' satisfaction survey of one company for one half-year, over the compounds it serves."""

    __tablename__ = "survey"
    __table_args__ = (
        UniqueConstraint("company_id", "half", name="uq_survey_company_half"),
        Index("ix_survey_next_due", "next_due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="property_company.id")
    half: str = Field(max_length=6)
    compounds: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # ids
    opened_by: int | None = Field(default=None, foreign_key="person.id")
    opened_at: datetime = _time(nullable=False)
    closes_at: datetime = _time(nullable=False)
    state: str = Field(default="open", max_length=8, index=True)  # open | closed
    reminded_at: datetime | None = _time(nullable=True)  # the one reminder to owners who have not answered
    next_due_at: datetime | None = _time(nullable=True)  # the reminder, then the close
    closed_at: datetime | None = _time(nullable=True)
    homes: int = Field(default=0)  # homes with a verified owner at opening (turnout's denominator)


class SurveyAnswer(SQLModel, table=True):
    """One home's answer to a survey: 1–5 per aspect, filled in aspect by aspect; a second answer for the
    same home is refused by the unique constraint."""

    __tablename__ = "survey_answer"
    __table_args__ = (
        UniqueConstraint("survey_id", "home_id", name="uq_survey_answer_home"),
        Index("ix_survey_answer_compound", "survey_id", "compound_id", "completed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    survey_id: int = Field(foreign_key="survey.id")
    home_id: int = Field(foreign_key="home.id")
    compound_id: int = Field(foreign_key="org_node.id")
    person_id: int = Field(foreign_key="person.id")  # the owner answering for the home
    security: int | None = None  # 安保
    cleaning: int | None = None  # 保洁
    greening: int | None = None  # 绿化
    repairs: int | None = None  # 维修
    fees: int | None = None  # 收费透明
    attitude: int | None = None  # 服务态度
    started_at: datetime = _time(nullable=False)
    completed_at: datetime | None = _time(nullable=True)  # when the sixth aspect was answered

"""Property companies (物业服务企业) as organisations: who they are, which compounds they serve under a
contract, and which people work for them (DESIGN §4.4–4.5).

A company's staff see only the compounds it serves: `company_grants` turns a person's membership into
property-staff grants over each compound of a running contract, so the permission policy needs no notion
of companies and "a company sees only its compounds" holds everywhere the policy is asked.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ColumnElement, Date, UniqueConstraint, bindparam, or_
from sqlmodel import Column, Field, Session, SQLModel, col, select

from core.permissions import Grant, Role
from db.models import OrgNode, _time


class PropertyCompany(SQLModel, table=True):
    """A property service company, known by its registered name."""

    __tablename__ = "property_company"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    created_at: datetime = _time(nullable=False)


class CompanyContract(SQLModel, table=True):
    """A company serving one compound from one day to another (open-ended while `ends_on` is None)."""

    __tablename__ = "company_contract"
    __table_args__ = (UniqueConstraint("company_id", "compound_id", "starts_on", name="uq_contract_start"),)

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="property_company.id", index=True)
    compound_id: int = Field(foreign_key="org_node.id", index=True)
    starts_on: date = Field(sa_column=Column(Date(), nullable=False))
    ends_on: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))


class CompanyStaff(SQLModel, table=True):
    """A person working for a company: their property-staff jurisdiction is the compounds it serves."""

    __tablename__ = "company_staff"

    person_id: int = Field(foreign_key="person.id", primary_key=True)
    company_id: int = Field(foreign_key="property_company.id", primary_key=True, index=True)


def by_name(session: Session, name: str) -> PropertyCompany | None:
    """The company registered under exactly this name."""
    return session.exec(select(PropertyCompany).where(PropertyCompany.name == name.strip())).first()


def ensure(session: Session, name: str, now: datetime) -> PropertyCompany:
    """The company of this name, registered now if it is new."""
    found = by_name(session, name)
    if found is None:
        found = PropertyCompany(name=name.strip(), created_at=now)
        session.add(found)
        session.flush()
    return found


def running(on: date) -> ColumnElement[bool]:
    """SQL: contracts that have begun by `on` and not ended before it."""
    return (col(CompanyContract.starts_on) <= on) & or_(
        col(CompanyContract.ends_on).is_(None), col(CompanyContract.ends_on) >= on
    )


def serving(session: Session, compound_id: int, on: date) -> PropertyCompany | None:
    """The company serving a compound on a day (the latest contract begun by then), or None."""
    return session.exec(
        select(PropertyCompany)
        .join(CompanyContract, col(CompanyContract.company_id) == PropertyCompany.id)
        .where(CompanyContract.compound_id == compound_id, running(on))
        .order_by(col(CompanyContract.starts_on).desc())
    ).first()


def compounds_of(session: Session, company_id: int, on: date) -> list[int]:
    """The compounds a company serves on a day, by id."""
    rows = session.exec(
        select(CompanyContract.compound_id)
        .where(CompanyContract.company_id == company_id, running(on))
        .order_by(col(CompanyContract.compound_id))
    ).all()
    return list(dict.fromkeys(rows))


def companies_of(session: Session, person_id: int) -> list[PropertyCompany]:
    """The companies a person works for."""
    return list(
        session.exec(
            select(PropertyCompany)
            .join(CompanyStaff, col(CompanyStaff.company_id) == PropertyCompany.id)
            .where(CompanyStaff.person_id == person_id)
            .order_by(col(PropertyCompany.id))
        ).all()
    )


def sign(session: Session, company_id: int, compound_id: int, starts_on: date, ends_on: date | None) -> None:
    """Record that a company serves a compound over a period (idempotent for the same start)."""
    found = session.exec(
        select(CompanyContract).where(
            CompanyContract.company_id == company_id,
            CompanyContract.compound_id == compound_id,
            CompanyContract.starts_on == starts_on,
        )
    ).first()
    if found is None:
        session.add(
            CompanyContract(
                company_id=company_id, compound_id=compound_id, starts_on=starts_on, ends_on=ends_on
            )
        )
    else:
        found.ends_on = ends_on
    session.flush()


def end_contracts(session: Session, compound_id: int, last_day: date) -> None:
    """End every contract of a compound still running after `last_day` on that day (another company takes
    over the next day); contracts that had not begun by then are dropped."""
    running = session.exec(
        select(CompanyContract).where(
            CompanyContract.compound_id == compound_id,
            or_(col(CompanyContract.ends_on).is_(None), col(CompanyContract.ends_on) > last_day),
        )
    ).all()
    for contract in running:
        if contract.starts_on > last_day:
            session.delete(contract)
        else:
            contract.ends_on = last_day
    session.flush()


def join(session: Session, person_id: int, company_id: int) -> None:
    """Make a person one of a company's staff (idempotent)."""
    if session.get(CompanyStaff, (person_id, company_id)) is None:
        session.add(CompanyStaff(person_id=person_id, company_id=company_id))
        session.flush()


_COMPANY_COMPOUNDS = (
    select(CompanyContract.compound_id, OrgNode.path)
    .join(CompanyStaff, col(CompanyStaff.company_id) == CompanyContract.company_id)
    .join(OrgNode, col(OrgNode.id) == CompanyContract.compound_id)
    .where(
        CompanyStaff.person_id == bindparam("b_person_id"),
        col(CompanyContract.starts_on) <= bindparam("b_on"),
        or_(col(CompanyContract.ends_on).is_(None), col(CompanyContract.ends_on) >= bindparam("b_on")),
    )
    .order_by(col(CompanyContract.compound_id))
)


def company_grants(session: Session, person_id: int, on: date) -> tuple[Grant, ...]:
    """Property-staff grants over each compound the person's companies serve on a day."""
    rows = session.exec(_COMPANY_COMPOUNDS, params={"b_person_id": person_id, "b_on": on}).all()
    seen = dict.fromkeys((compound_id, path) for compound_id, path in rows)
    return tuple(Grant(Role.PROPERTY_STAFF, compound_id, path, "compound") for compound_id, path in seen)

"""A compound of many one-home buildings with single-use owner invites, for tests with many residents."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

from db import org, people
from db.engine import make_engine, session_factory
from db.models import Home


def compound_of(count: int) -> str:
    """Organisation YAML: one building with one home per resident, so no two reports are "me too"."""
    buildings = "\n".join(
        f"              - name: {n}栋\n"
        f"                entrances:\n"
        f"                  - name: 1单元\n"
        f"                    homes:\n"
        f'                      - {{number: "101", area: 80.00}}'
        for n in range(1, count + 1)
    )
    return (
        "district: 试验区\nstreets:\n  - name: 试验街道\n    communities:\n      - name: 试验社区\n"
        "        compounds:\n          - name: 试验小区\n            buildings:\n" + buildings + "\n"
    )


def owner_invites(url: str, count: int) -> list[str]:
    """Load the compound into a migrated database and return one owner invite code per home."""
    engine = make_engine(url)
    now = datetime.now(UTC)
    with session_factory(engine)() as session:
        homes, grids = org.parse_yaml(compound_of(count))
        org.load_rows(session, homes, grids)
        ids = session.exec(select(Home.id).order_by(Home.id)).all()
        codes = [people.create_invite(session, "owner", now, home_id=home).code for home in ids]
        session.commit()
    engine.dispose()
    return codes

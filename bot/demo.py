"""The demo organisation and its fixed invite codes, loaded on a fresh start."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlmodel import Session, select

from db import org, people
from db.models import Grid, Invite, OrgNode

DEMO_ORG = Path(__file__).resolve().parent.parent / "data" / "demo_org.yaml"
COMMUNITY = "铁西区/北沟街道/英雄社区"
# code → (kind, home path or node path, grid name)
DEMO_INVITES: dict[str, tuple[str, str, str]] = {
    "DEMO-OWNER": ("owner", f"{COMMUNITY}/阳光花园/1栋/1单元/101", ""),
    "DEMO-OWNER2": ("owner", f"{COMMUNITY}/阳光花园/1栋/2单元/201", ""),
    "DEMO-TENANT": ("tenant", f"{COMMUNITY}/阳光花园/1栋/1单元/102", ""),
    "DEMO-GRID": ("grid_worker", COMMUNITY, "英雄社区第一网格"),
    "DEMO-STAFF": ("community_staff", COMMUNITY, ""),
    "DEMO-STREET": ("street_staff", "铁西区/北沟街道", ""),
    "DEMO-DISTRICT": ("department_staff", "铁西区", ""),
    "DEMO-COMMITTEE": ("owners_committee", f"{COMMUNITY}/阳光花园", ""),
}


def load_demo(session: Session, now: datetime) -> bool:
    """Load the demo org and invites into an empty database; False when an org already exists."""
    if session.exec(select(OrgNode).limit(1)).first() is not None:
        _ensure_invites(session, now)
        return False
    homes, grids = org.parse_yaml(DEMO_ORG.read_text(encoding="utf-8"))
    org.load_rows(session, homes, grids)
    _ensure_invites(session, now)
    return True


def _ensure_invites(session: Session, now: datetime) -> None:
    for code, (kind, path, grid_name) in DEMO_INVITES.items():
        if session.exec(select(Invite).where(Invite.code == code)).first() is not None:
            continue
        if kind in people.RESIDENT_KINDS:
            home = org.find_home(session, path)
            if home is None:
                continue
            people.create_invite(session, kind, now, home_id=home.id, code=code, uses=None)
        else:
            node = org.find_node(session, path)
            if node is None:
                continue
            invite = people.create_invite(session, kind, now, node_id=node.id, code=code, uses=None)
            if grid_name:
                grid = session.exec(select(Grid).where(Grid.name == grid_name)).first()
                invite.grid_id = grid.id if grid else None
    session.flush()

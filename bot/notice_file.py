"""Reading a notice from a YAML file for `linli notice send`: every field checked, each error naming it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlmodel import Session, col, select

from db import notices, org
from db.models import Invite, OrgNode, Person, RoleGrant

FIELDS = ("kind", "title", "body", "node", "buildings", "roles", "send_at", "publicity_days", "ack", "author")
TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")
MAX_PUBLICITY_DAYS = 365


class NoticeFileError(ValueError):
    """A bad notice file: the field at fault and why."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


@dataclass(slots=True)
class NoticeSpec:
    """A notice as the file describes it, with names resolved to ids."""

    kind: str
    title: str
    body: str
    node: OrgNode
    buildings: list[int] = field(default_factory=list)
    roles: list[str] = field(default_factory=lambda: list(notices.DEFAULT_ROLES))
    send_at: datetime | None = None
    publicity_until: datetime | None = None
    ack: bool = False
    author_id: int | None = None


def _text(raw: dict[str, Any], name: str, limit: int) -> str:
    value = raw.get(name)
    if value is None or not str(value).strip():
        raise NoticeFileError(name, "is missing")
    if not isinstance(value, str | int | float):
        raise NoticeFileError(name, "must be text")
    text = str(value).strip()
    if len(text) > limit:
        raise NoticeFileError(name, f"is {len(text)} characters long, at most {limit}")
    return text


def _time(value: object, zone: ZoneInfo, now: datetime) -> datetime | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "now")):
        return None
    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        raise NoticeFileError("send_at", f"{value} has no time of day; use e.g. 2026-12-01 09:00")
    elif isinstance(value, str):
        for fmt in TIME_FORMATS:
            try:
                moment = datetime.strptime(value.strip(), fmt)
                break
            except ValueError:
                continue
    if moment is None:
        raise NoticeFileError("send_at", f"{value!r} must look like 2026-12-01 09:00 (local time) or now")
    moment = moment.replace(tzinfo=zone) if moment.tzinfo is None else moment
    if moment < now - timedelta(minutes=1):
        raise NoticeFileError("send_at", f"{value} has already passed")
    return moment


def _buildings(session: Session, node: OrgNode, value: object) -> list[int]:
    if value is None:
        return []
    names = value if isinstance(value, list) else [value]
    ids: list[int] = []
    for name in names:
        parent: OrgNode | None = node
        for part in [p.strip() for p in str(name).split("/") if p.strip()]:
            parent = session.exec(
                select(OrgNode).where(OrgNode.parent_id == parent.id, OrgNode.name == part)  # type: ignore[union-attr]
            ).one_or_none()
            if parent is None:
                break
        if parent is None or parent is node or parent.kind != "building":
            raise NoticeFileError("buildings", f"no building {name!r} under {node.name}")
        ids.append(parent.id)  # type: ignore[arg-type]
    return ids


def _roles(value: object) -> list[str]:
    if value is None:
        return list(notices.DEFAULT_ROLES)
    roles = value if isinstance(value, list) else [value]
    unknown = [str(r) for r in roles if r not in notices.ROLES]
    if unknown or not roles:
        raise NoticeFileError(
            "roles", f"must be some of {', '.join(notices.ROLES)} (got {unknown or 'none'})"
        )
    return [str(r) for r in roles]


def _author(session: Session, value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if session.get(Person, value) is None:
            raise NoticeFileError("author", f"no person with id {value}")
        return value
    code = str(value).strip().upper()
    invite = session.exec(select(Invite).where(Invite.code == code)).one_or_none()
    if invite is None or invite.node_id is None:
        raise NoticeFileError("author", f"{value!r} is neither a person id nor a staff invite code")
    holder = session.exec(
        select(RoleGrant.person_id)
        .where(RoleGrant.role == invite.kind, RoleGrant.node_id == invite.node_id)
        .order_by(col(RoleGrant.person_id))
    ).first()
    if holder is None:
        raise NoticeFileError("author", f"nobody has joined with invite {code} yet")
    return holder


def load(session: Session, path: Path, zone: ZoneInfo, now: datetime) -> NoticeSpec:
    """Read and check a notice file; a bad field raises NoticeFileError naming it."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise NoticeFileError("file", f"not valid UTF-8 YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise NoticeFileError("file", "must be a mapping of fields (kind, title, body, node, …)")
    unknown = [str(k) for k in raw if k not in FIELDS]
    if unknown:
        raise NoticeFileError(unknown[0], f"unknown field (known: {', '.join(FIELDS)})")
    kind = str(raw.get("kind") or "").strip()
    if kind not in notices.KINDS:
        raise NoticeFileError("kind", f"{kind or 'nothing'!r} must be one of {', '.join(notices.KINDS)}")
    title = _text(raw, "title", notices.MAX_TITLE)
    body = _text(raw, "body", notices.MAX_BODY)
    node_path = str(raw.get("node") or "").strip()
    node = org.find_node(session, node_path) if node_path else None
    if node is None:
        raise NoticeFileError("node", f"no org node {node_path or 'given'!r} (use names joined with '/')")
    send_at = _time(raw.get("send_at"), zone, now)
    days = raw.get("publicity_days", 0) or 0
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_PUBLICITY_DAYS:
        raise NoticeFileError(
            "publicity_days", f"{days!r} must be a whole number from 0 to {MAX_PUBLICITY_DAYS}"
        )
    ack = raw.get("ack", False)
    if not isinstance(ack, bool):
        raise NoticeFileError("ack", f"{ack!r} must be true or false")
    start = max(send_at or now, now)
    return NoticeSpec(
        kind=kind,
        title=title,
        body=body,
        node=node,
        buildings=_buildings(session, node, raw.get("buildings")),
        roles=_roles(raw.get("roles")),
        send_at=send_at,
        publicity_until=start + timedelta(days=days) if days else None,
        ack=ack,
        author_id=_author(session, raw.get("author")),
    )

"""Reading a notice from a YAML file for `linli notice send`: every field checked, each error naming it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationInfo, field_validator
from sqlmodel import Session, col, select

from bot.yaml_model import FileFieldError, Reading, YamlModel, reading
from db import notices, org
from db.models import Invite, OrgNode, Person, RoleGrant
from db.rows import id_of

TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")
MAX_PUBLICITY_DAYS = 365


class NoticeFileError(FileFieldError):
    """A bad notice file: the field at fault and why."""


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


def _text(value: object, name: str, limit: int) -> str:
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


def _building_ids(session: Session, node: OrgNode, value: object) -> list[int]:
    if value is None:
        return []
    names = value if isinstance(value, list) else [value]
    ids: list[int] = []
    for name in names:
        parent: OrgNode | None = node
        for part in [p.strip() for p in str(name).split("/") if p.strip()]:
            if parent is None:
                break
            parent = session.exec(
                select(OrgNode).where(OrgNode.parent_id == parent.id, OrgNode.name == part)
            ).one_or_none()
        if parent is None or parent is node or parent.kind != "building":
            raise NoticeFileError("buildings", f"no building {name!r} under {node.name}")
        ids.append(id_of(parent))
    return ids


def _role_list(value: object) -> list[str]:
    if value is None:
        return list(notices.DEFAULT_ROLES)
    roles = value if isinstance(value, list) else [value]
    unknown = [str(r) for r in roles if r not in notices.ROLES]
    if unknown or not roles:
        raise NoticeFileError(
            "roles", f"must be some of {', '.join(notices.ROLES)} (got {unknown or 'none'})"
        )
    return [str(r) for r in roles]


def _author_id(session: Session, value: object) -> int | None:
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


class NoticeFile(YamlModel):
    """A notice file's fields, in the order the file documents them; names resolved with the Reading."""

    ERROR: ClassVar[type[FileFieldError]] = NoticeFileError
    SHAPE: ClassVar[str] = "kind, title, body, node"
    CHECKS: ClassVar[tuple[str, ...]] = (
        "kind",
        "title",
        "body",
        "node",
        "send_at",
        "publicity_days",
        "ack",
        "buildings",
        "roles",
        "author",
    )

    kind: str = Field(default="", validate_default=True)
    title: str = Field(default="", validate_default=True)
    body: str = Field(default="", validate_default=True)
    node: OrgNode = Field(default="", validate_default=True)
    buildings: list[int] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=lambda: list(notices.DEFAULT_ROLES))
    send_at: datetime | None = None
    publicity_days: int = 0
    ack: bool = False
    author: int | None = None

    @field_validator("kind", mode="plain")
    @classmethod
    def _kind(cls, value: object) -> str:
        kind = str(value or "").strip()
        if kind not in notices.KINDS:
            raise NoticeFileError("kind", f"{kind or 'nothing'!r} must be one of {', '.join(notices.KINDS)}")
        return kind

    @field_validator("title", mode="plain")
    @classmethod
    def _title(cls, value: object) -> str:
        return _text(value, "title", notices.MAX_TITLE)

    @field_validator("body", mode="plain")
    @classmethod
    def _body(cls, value: object) -> str:
        return _text(value, "body", notices.MAX_BODY)

    @field_validator("node", mode="plain")
    @classmethod
    def _node(cls, value: object, info: ValidationInfo) -> OrgNode:
        path = str(value or "").strip()
        node = org.find_node(reading(info).session, path) if path else None
        if node is None:
            raise NoticeFileError("node", f"no org node {path or 'given'!r} (use names joined with '/')")
        return node

    @field_validator("buildings", mode="plain")
    @classmethod
    def _buildings(cls, value: object, info: ValidationInfo) -> list[int]:
        node = info.data.get("node")
        if node is None:
            return []  # the node's own error is the one reported
        return _building_ids(reading(info).session, node, value)

    @field_validator("roles", mode="plain")
    @classmethod
    def _roles(cls, value: object) -> list[str]:
        return _role_list(value)

    @field_validator("send_at", mode="plain")
    @classmethod
    def _send_at(cls, value: object, info: ValidationInfo) -> datetime | None:
        return _time(value, reading(info).zone, reading(info).now)

    @field_validator("publicity_days", mode="plain")
    @classmethod
    def _publicity_days(cls, value: object) -> int:
        days = value or 0
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_PUBLICITY_DAYS:
            raise NoticeFileError(
                "publicity_days", f"{days!r} must be a whole number from 0 to {MAX_PUBLICITY_DAYS}"
            )
        return days

    @field_validator("ack", mode="plain")
    @classmethod
    def _ack(cls, value: object) -> bool:
        if not isinstance(value, bool):
            raise NoticeFileError("ack", f"{value!r} must be true or false")
        return value

    @field_validator("author", mode="plain")
    @classmethod
    def _author(cls, value: object, info: ValidationInfo) -> int | None:
        return _author_id(reading(info).session, value)


def load(session: Session, path: Path, zone: ZoneInfo, now: datetime) -> NoticeSpec:
    """Read and check a notice file; a bad field raises NoticeFileError naming it."""
    fields = NoticeFile.read(path, Reading(session, zone, now))
    start = max(fields.send_at or now, now)
    days = fields.publicity_days
    return NoticeSpec(
        kind=fields.kind,
        title=fields.title,
        body=fields.body,
        node=fields.node,
        buildings=fields.buildings,
        roles=fields.roles,
        send_at=fields.send_at,
        publicity_until=start + timedelta(days=days) if days else None,
        ack=fields.ack,
        author_id=fields.author,
    )

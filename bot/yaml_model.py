"""A YAML file read into a pydantic model (notices, polls): unknown fields refused, and the first bad field
reported as one line, "field: reason", in the order a reader would fix them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Self, cast
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo
from sqlmodel import Session


class FileFieldError(ValueError):
    """A bad file: the field at fault and why."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Reading:
    """What checking a file needs besides its text: the database (names to rows), the local zone, now."""

    session: Session
    zone: ZoneInfo
    now: datetime


def reading(info: ValidationInfo) -> Reading:
    """The Reading a validator runs under."""
    return cast(Reading, info.context)


class YamlModel(BaseModel):
    """A file's fields, declared in the order the file documents them. Each field's validator raises the
    file's own error; `CHECKS` orders the errors (a name with " (missing)" ranks the field's absence
    apart from its other faults)."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    ERROR: ClassVar[type[FileFieldError]] = FileFieldError
    SHAPE: ClassVar[str] = ""  # the first fields, named when the file is not a mapping of fields
    CHECKS: ClassVar[tuple[str, ...]] = ()
    MISSING: ClassVar[dict[str, str]] = {}  # why an absent required field is wrong, if not "is missing"

    @classmethod
    def read(cls, path: Path, context: Reading) -> Self:
        """Read and check the file; the first bad field raises ERROR naming it."""
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise cls.ERROR("file", f"not valid UTF-8 YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(raw, dict):
            raise cls.ERROR("file", f"must be a mapping of fields ({cls.SHAPE}, …)")
        try:
            return cls.model_validate(raw, context=context)
        except ValidationError as exc:
            raise cls._first(exc.errors()) from None

    @classmethod
    def _first(cls, errors: list[Any]) -> FileFieldError:
        """The error a reader meets first: an unknown field, else the earliest check that failed."""
        for error in errors:
            if error["type"] in ("extra_forbidden", "invalid_key"):  # invalid_key: a key that is no text
                known = ", ".join(cls.model_fields)
                return cls.ERROR(str(error["loc"][0]), f"unknown field (known: {known})")
        found = [cls._as_file_error(error) for error in errors]
        return min(found, key=lambda pair: pair[0])[1]

    @classmethod
    def _as_file_error(cls, error: Any) -> tuple[int, FileFieldError]:
        """(rank, error) for one pydantic error."""
        name = str(error["loc"][0]) if error["loc"] else "file"
        if error["type"] == "missing":
            key = f"{name} (missing)"
            rank = cls.CHECKS.index(key) if key in cls.CHECKS else cls._rank(name)
            return rank, cls.ERROR(name, cls.MISSING.get(name, "is missing"))
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, FileFieldError):
            return cls._rank(cause.field), cause
        return cls._rank(name), cls.ERROR(name, str(error["msg"]))

    @classmethod
    def _rank(cls, name: str) -> int:
        return cls.CHECKS.index(name) if name in cls.CHECKS else len(cls.CHECKS)

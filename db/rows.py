"""Typed access to what SQLModel leaves untyped: the id of a stored row and the table of a model."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Table, inspect
from sqlmodel import SQLModel


class Stored(Protocol):
    """A row that has been written (flushed), so its id is known."""

    @property
    def id(self) -> int | None: ...


def id_of(row: Stored) -> int:
    """The id of a row read from or flushed to the database (which always has one)."""
    assert row.id is not None, "a row not yet flushed has no id"
    return row.id


def table_of(model: type[SQLModel]) -> Table:
    """The Core table a model is mapped to, for statements built once that skip the ORM."""
    table = inspect(model).local_table
    assert isinstance(table, Table), f"{model.__name__} is not mapped to one table"
    return table

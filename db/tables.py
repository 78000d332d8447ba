"""Every table Linli keeps, imported once so that Alembic and the schema test see the whole metadata."""

from __future__ import annotations

import db.committee.tables
import db.companies
import db.evaluation.tables
import db.hotspots.tables
import db.ledger.tables
import db.models

__all__ = ["db"]

"""What people events tell whom (registered with `tells`)."""

from __future__ import annotations

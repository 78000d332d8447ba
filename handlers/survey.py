"""The owners' satisfaction survey: six aspects, 1–5, three taps each, once per home."""

from __future__ import annotations

from handlers.flows import Flow

FLOW = Flow("")

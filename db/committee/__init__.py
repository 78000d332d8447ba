"""Owners' committee terms and 换届 (DESIGN §4.6)."""

"""Conversation flows: each takes an Inbound and the person's state and returns Replies."""

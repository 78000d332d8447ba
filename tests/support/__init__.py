"""Test helpers: a chat driver for dialog tests, and a Bot API double."""

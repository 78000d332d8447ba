"""The core of Linli: what holds whatever the channel (today the permission policy)."""

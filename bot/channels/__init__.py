"""Channel adapters: the only modules that import a channel SDK."""

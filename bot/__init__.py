"""The running Linli service: settings, assembly, channels, scheduler, web and CLI."""

"""`python -m bot` is the same as the `linli` command."""

from bot.cli import main

raise SystemExit(main())

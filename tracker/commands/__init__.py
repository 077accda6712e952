"""One module per CLI subcommand (see tracker.cli.COMMANDS)."""

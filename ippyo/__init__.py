"""The `ippyo` command line: one entry point whose subcommands live with their components."""

"""The `corebp` command: one small module per subcommand."""

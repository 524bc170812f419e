"""The `mreg` command line: a thin typer front over `mreg.core`."""

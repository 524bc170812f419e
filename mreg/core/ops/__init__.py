"""One module per registry operation; each takes a `Registry` and returns plain data."""

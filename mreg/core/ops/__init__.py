"""One module per registry operation; each takes a `Repo` (mreg.core.repo) and returns plain data.

Operations import the modules below them and never `mreg.core.registry`, the facade above them."""

"""One module per group of commands, as `mreg --help` lists them."""

"""The registry's core: storage, index, history and operations.

Nothing here imports typer, rich or `mreg.cli`; the command line is one client
of this package and a notebook is another.
"""

"""What each command does: one typer-free function per command, in a module named like its declarations' (mreg/cli/commands/).

A body takes the command's parameters by their declared names, with the
declared defaults, calls the core and renders the result. Nothing here
imports typer, so the fast path (mreg/cli/fast.py) runs any command
without it.
"""

"""mreg's own bash completion (the script and the class that answers it) and zsh script.

typer's bash script hands over COMP_WORDS, which bash has split at `@`, `=`
and `:` (mreg/cli/bashline.py says why that breaks `iris@<TAB>`). This
script hands over the line up to the cursor instead; the class reads it and
prints candidates relative to the part of the word readline replaces.
`--show-completion bash`, `--install-completion bash` and
completions/mreg.bash all give this script.

typer's zsh script, autoloaded from fpath by compinit (as
`--install-completion zsh` sets it up), only registered its function on the
first TAB of each new shell and completed nothing then; the zsh script here
also completes when it is run as the autoloaded `_mreg`.
"""

from __future__ import annotations

BASH_SCRIPT = """
%(complete_func)s() {
    local IFS=$'\\n'
    COMPREPLY=( $( env COMP_LINE="${COMP_LINE:0:COMP_POINT}" \\
                   COMP_WORDBREAKS="$COMP_WORDBREAKS" \\
                   %(autocomplete_var)s=complete_bash $1 ) )
    return 0
}

complete -o default -F %(complete_func)s %(prog_name)s
"""

ZSH_SCRIPT = """
#compdef %(prog_name)s

%(complete_func)s() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" %(autocomplete_var)s=complete_zsh %(prog_name)s)
}

compdef %(complete_func)s %(prog_name)s
# Autoloaded by compinit on the first TAB: answer that TAB too.
if [[ "$funcstack[1]" == "_%(prog_name)s" ]]; then
  %(complete_func)s "$@"
fi
"""


def bash_class():
    """typer's BashComplete, reading the line rather than COMP_WORDS."""
    from typer._click.shell_completion import split_arg_string
    from typer._completion_classes import BashComplete

    from mreg.cli import bashline

    class LineBashComplete(BashComplete):
        source_template = BASH_SCRIPT

        def get_completion_args(self) -> tuple[list[str], str]:
            return bashline.split(bashline.line(), split_arg_string)

        def complete(self) -> str:
            args, incomplete = self.get_completion_args()
            values = [item.value for item in self.get_completions(args, incomplete)]
            return "\n".join(bashline.relative(values, bashline.line()))

    return LineBashComplete


def zsh_class():
    """typer's ZshComplete with the script above."""
    from typer._completion_classes import ZshComplete

    class AutoloadZshComplete(ZshComplete):
        source_template = ZSH_SCRIPT

    return AutoloadZshComplete


def install() -> None:
    """Make the bash and zsh classes and scripts the ones typer uses (after typer has registered its own)."""
    from typer import _completion_shared
    from typer._click.shell_completion import add_completion_class

    add_completion_class(bash_class(), "bash")
    add_completion_class(zsh_class(), "zsh")
    _completion_shared._completion_scripts["bash"] = BASH_SCRIPT
    _completion_shared._completion_scripts["zsh"] = ZSH_SCRIPT

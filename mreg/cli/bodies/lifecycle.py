"""transition, promote, rollback, check."""

from __future__ import annotations

from mreg.cli import output, settings
from mreg.cli.context import open_registry
from mreg.cli.render import print_version


def transition(ref: str, stage: str, reason: str = "", condition: str | None = None, if_missing: str = "fail",
               override: bool = False, lock_timeout: float | None = None, json: bool = False, quiet: bool = False,
               repo: str | None = None) -> None:
    version = open_registry(repo, lock_timeout).transition(ref, stage, reason, condition=condition,
                                                           if_missing=if_missing, override=override)
    print_version(version, json=json, quiet=quiet, verb="moved")


def promote(ref: str, to: str | None = None, reason: str = "", condition: str | None = None, if_missing: str = "fail",
            override: bool = False, lock_timeout: float | None = None, json: bool = False, quiet: bool = False,
            repo: str | None = None) -> None:
    version = open_registry(repo, lock_timeout).promote(ref, to, reason, condition=condition, if_missing=if_missing,
                                                        override=override)
    print_version(version, json=json, quiet=quiet, verb="promoted")


def rollback(name: str, to: str | None = None, reason: str = "", override: bool = False,
             lock_timeout: float | None = None, json: bool = False, quiet: bool = False,
             repo: str | None = None) -> None:
    version = open_registry(repo, lock_timeout).rollback(name, to, reason, override=override)
    print_version(version, json=json, quiet=quiet, verb="rolled back to")


def check(ref: str, condition: str, if_missing: str = "fail", json: bool = False, quiet: bool = False,
          repo: str | None = None) -> None:
    from mreg.core.gate import result_word
    from mreg.core.ops.gates import refusal

    result = open_registry(repo).check(ref, condition, if_missing=if_missing)
    if not result["passed"]:
        raise refusal(result)
    if settings.wants_json(json):
        output.print_json(result)
    elif not quiet:
        let_through = " (passes: --if-missing pass)" if result["result"] is None else ""
        print(output.one_line(f"{result['name']}@{result['version']}: {result['condition']} is "
                              f"{result_word(result['result'])}{let_through}"))
        for clause in result["clauses"]:
            print(output.one_line(f"  {clause['line']}"))

"""Conditions on moves: `promote --if`, `transition --if` and `mreg check`.

`gate_move` is the one check every conditional move goes through: it runs
inside the move's transaction, under the lock, so no other move can change
what the condition read between the check and the move.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mreg.core.repo import Repo, Transaction
from mreg.core.wording import name as spelled
from mreg.errors import ConditionFailed, UsageError

if TYPE_CHECKING:
    from mreg.core.gate import Gate

IF_MISSING = ("fail", "pass")


def compile_condition(condition: str | Gate | None, if_missing: str = "fail") -> Gate | None:
    """Parse a condition (None: there is none) before any lock is taken; exit 2 for a malformed one or a bad if_missing."""
    if if_missing not in IF_MISSING:
        raise UsageError(f"invalid {spelled('if_missing')} {if_missing!r}: expected pass or fail")
    if not isinstance(condition, str):
        return condition  # None, or a Gate compiled already
    # The language (and its parser) is imported only for a move that has a condition:
    # a plain transition, promote or deploy does not pay for it.
    from mreg.core.gate import compile_gate

    return compile_gate(condition)


def evaluate(repo: Repo, model: dict, version: str, gate: Gate, if_missing: str) -> dict:
    """The condition's result for one version, with `passed` and each clause's values."""
    result = gate.evaluate(model, version, repo.resolve)
    result["if_missing"] = if_missing
    result["passed"] = result["result"] is True or (result["result"] is None and if_missing == "pass")
    return result


def refusal(result: dict) -> ConditionFailed:
    """The error for a condition that did not pass: the verdict, then one line per clause."""
    from mreg.core.gate import result_word

    ref = f"{result['name']}@{result['version']}"
    error = ConditionFailed(f"condition not met for {ref}: {result['condition']} is {result_word(result['result'])}")
    if result["result"] is None:
        error.hint = (f"a missing value makes a condition unknown; {spelled('if_missing')} pass lets it pass "
                      "(e.g. the first release, with no production version yet)")
    error.lines = tuple(clause["line"] for clause in result["clauses"])
    error.data = {"condition": result}
    return error


def gate_move(tx: Transaction, model: dict, version: str, condition: str | Gate | None,
              if_missing: str = "fail") -> dict | None:
    """Check a move's condition inside its transaction; raise ConditionFailed unless it passes.

    Returns what the move's event records (None without a condition).
    """
    if condition is None:
        return None
    result = evaluate(tx.registry, model, version, compile_condition(condition, if_missing), if_missing)
    if not result["passed"]:
        raise refusal(result)
    return result


def check(registry: Repo, ref: str, condition: str | Gate, if_missing: str = "fail") -> dict:
    """Evaluate a condition for the version `ref` names, moving nothing."""
    gate = compile_condition(condition, if_missing)
    model, version = registry.lookup(ref)
    return evaluate(registry, model, version, gate, if_missing)

"""Quality gates: parse `field OP number` and decide pass / fail / inconclusive.

Verdict policy (docs/statistics.md, "Gates"):
- no value for the field → FAIL, naming what is missing (never a silent pass); except a field whose
  None means "nothing to gate" (FieldValue.vacuous, e.g. savings_from_regressed_pct when nothing fell):
  PASS, with that reason as the gate's warning;
- untested field (totals, counts, CI bounds, MDEs) → plain comparison;
- tested field (a significance-tested change): the point value satisfies the threshold → PASS;
  otherwise a significant change → FAIL, a non-significant one → INCONCLUSIVE, which the
  on_inconclusive policy (warn | pass | fail) turns into passed True / True / False.
The metric's noise floor never overrides an explicit threshold.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from difflib import get_close_matches

from kalibra_action.errors import InputError
from kalibra_action.limits import MAX_GATES
from kalibra_action.result import FieldValue, GateResult, GateStatus

# What an inconclusive gate does, by on_inconclusive policy: passes (True) or fails (False). The one list of
# the policies: the config, the CLI flag and the action input all validate against ON_INCONCLUSIVE.
INCONCLUSIVE_PASSES: Mapping[str, bool] = {"warn": True, "fail": False, "pass": True}
ON_INCONCLUSIVE: tuple[str, ...] = tuple(INCONCLUSIVE_PASSES)
DEFAULT_ON_INCONCLUSIVE = "warn"

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
}
# The threshold takes the rest of the line (stripped afterwards): a lazy `.*?` before `\s*$` would retry
# every split of a run of spaces, quadratic in the gate's length (a 1 MiB kalibra.yml ran for hours).
_GATE_RE = re.compile(r"^\s*(?P<field>[^<>=!\s]*)\s*(?P<op>>=|<=|==|=|>|<)(?P<num>.*)\Z", re.DOTALL)
_WRONG_OPS = {"=>": ">=", "=<": "<=", "!=": None, "<>": None}


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or '' when nothing is close."""
    close = get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


@dataclass(frozen=True)
class Gate:
    """One parsed gate. op is canonical: '==' is stored as '='.

    Parsed once, where the expression is read (kalibra.yml by the config layer; `-r` and the action's
    `require` input where the run's request is built), and passed down to the engine as the same object.
    """

    expr: str
    field: str
    op: str
    threshold: float
    source: str = "config"  # "config" | "cli" | "action"


def split_gate(expr: str) -> tuple[str, str, float]:
    """Syntax only: 'field OP number' → (field, op, threshold); ValueError with a one-line reason."""
    text = expr.strip()
    if not text:
        raise ValueError("empty gate expression (expected: field OP number, e.g. regressions <= 0)")
    for wrong, right in _WRONG_OPS.items():
        if wrong in text:
            fix = f"; use '{right}'" if right else "; use one of >= <= > < ="
            raise ValueError(f"unsupported operator '{wrong}' in '{text}'{fix}")
    m = _GATE_RE.match(text)
    if m is None:
        what = "cannot parse" if any(c in text for c in "<>=") else "no operator in"
        raise ValueError(f"{what} '{text}' (expected: field OP number, OP one of >= <= > < =)")
    field, op, num = m.group("field"), m.group("op"), m.group("num").strip()
    if not field:
        raise ValueError(f"missing field name in '{text}' (expected: field {op} number)")
    if not num:
        raise ValueError(f"missing threshold in '{text}' (expected: {field} {op} number)")
    try:
        threshold = float(num)
    except ValueError:
        raise ValueError(f"threshold '{num}' in '{text}' is not a number (e.g. {field} {op} 5)") from None
    if not math.isfinite(threshold):
        raise ValueError(f"threshold '{num}' in '{text}' must be a finite number")
    return field, "=" if op == "==" else op, threshold


def gate_key(source: str, index: int | None = None) -> str:
    """The key an error names: require[i] (kalibra.yml), --require (CLI), inputs.require (action)."""
    if source == "config":
        return "require" if index is None else f"require[{index}]"
    return "--require" if source == "cli" else "inputs.require"


def parse_gate(expr: str, known: Mapping[str, object] | None, *, source: str = "config",
               index: int | None = None) -> Gate:
    """Parse and validate one gate; known=None checks the syntax only. InputError on any problem."""
    key = gate_key(source, index)
    try:
        field, op, threshold = split_gate(expr)
    except ValueError as exc:
        raise InputError(str(exc), key=key) from None
    if known is not None and field not in known:
        raise InputError(f"unknown field '{field}' in '{expr.strip()}'{did_you_mean(field, known)}", key=key)
    return Gate(expr=expr.strip(), field=field, op=op, threshold=threshold, source=source)


def check_gate_count(count: int, source: str) -> None:
    """InputError when one source gives more than MAX_GATES gates (each one is rendered everywhere)."""
    if count > MAX_GATES:
        raise InputError(f"{count:,} gates, more than the limit of {MAX_GATES:,}", key=gate_key(source),
                         hint="a gate list needs a few gates on the fields that matter")


def parse_gates(exprs: Iterable[str], known: Mapping[str, object] | None, *,
                source: str = "config") -> list[Gate]:
    """Parse every non-empty expression; all problems are reported together in one InputError.
    More than MAX_GATES non-empty expressions are refused before any is parsed."""
    exprs = list(exprs)
    check_gate_count(sum(bool(e and e.strip()) for e in exprs), source)
    gates: list[Gate] = []
    errors: list[InputError] = []
    for i, expr in enumerate(exprs):
        if not expr or not expr.strip():
            continue
        try:
            gates.append(parse_gate(expr, known, source=source, index=i))
        except InputError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise InputError(f"{len(errors)} invalid gates: " + "; ".join(str(e) for e in errors))
    return gates


def _fmt(x: float) -> str:
    return f"{x:+.4g}"


def _why_inconclusive(gate: Gate, fv: FieldValue, value: float) -> str:
    if fv.significant is None:
        why = "significance could not be assessed (no confidence interval)"
    else:
        why = "the change is not statistically significant"
    parts = []
    if fv.ci is not None:
        parts.append(f"95% CI [{_fmt(fv.ci[0])}, {_fmt(fv.ci[1])}]")
    if fv.mde is not None:
        parts.append(f"MDE {fv.mde:.4g}")
    detail = f" ({'; '.join(parts)})" if parts else ""
    return f"{gate.field} = {_fmt(value)} does not meet '{gate.expr}' but {why}{detail}"


def evaluate_gate(gate: Gate, fv: FieldValue | None, *, on_inconclusive: str = DEFAULT_ON_INCONCLUSIVE,
                  noise: float | None = None) -> GateResult:
    """Decide one gate (see the module docstring)."""
    def result(status: GateStatus, passed: bool, warning: str | None = None) -> GateResult:
        actual = None if value is None else round(value, 4)
        ci = fv.ci if fv is not None else None
        mde = fv.mde if fv is not None else None
        under = bool(fv is not None and fv.tested and mde is not None and abs(gate.threshold) < mde)
        return GateResult(expr=gate.expr, field=gate.field, op=gate.op, threshold=gate.threshold,
                          status=status, passed=passed, actual=actual, warning=warning, ci=ci, mde=mde,
                          underpowered=under, source=gate.source)

    value = fv.value if fv is not None else None
    if value is not None and not math.isfinite(value):
        value = None
    if value is None:
        missing = (fv.missing if fv is not None else None) or f"no metric produced '{gate.field}'"
        if fv is not None and fv.vacuous:
            return result(GateStatus.PASS, True, f"no value for {gate.field}: {missing}; nothing to gate")
        return result(GateStatus.FAIL, False, f"no data for {gate.field}: {missing}")
    assert fv is not None
    if _OPS[gate.op](value, gate.threshold):
        return result(GateStatus.PASS, True)
    if not fv.tested:
        return result(GateStatus.FAIL, False)
    if fv.significant:
        note = None
        if noise is not None and abs(value) <= noise:
            note = (f"{gate.field} = {_fmt(value)} is within the metric's noise floor ({noise:g}) "
                    "but significant; the explicit threshold is honoured")
        return result(GateStatus.FAIL, False, note)
    why = _why_inconclusive(gate, fv, value)
    passed = INCONCLUSIVE_PASSES[on_inconclusive]  # checked where it was read (kalibra_action.config)
    verb = "passes" if passed else "fails"
    return result(GateStatus.INCONCLUSIVE, passed,
                  f"{why}; inconclusive: {verb} under on_inconclusive={on_inconclusive}")


def evaluate_gates(gates: Sequence[Gate], values: Mapping[str, FieldValue], *,
                   on_inconclusive: str = DEFAULT_ON_INCONCLUSIVE,
                   noise: Mapping[str, float] | None = None) -> list[GateResult]:
    """Evaluate gates in order. noise maps a field to its metric's noise floor (used in messages only)."""
    noise = noise or {}
    return [evaluate_gate(g, values.get(g.field), on_inconclusive=on_inconclusive, noise=noise.get(g.field))
            for g in gates]

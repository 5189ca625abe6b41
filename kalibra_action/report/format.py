"""Number formatting filters shared by every template. None, NaN and non-numbers print as `n/a`."""

from __future__ import annotations

import math
from numbers import Real

NA = "n/a"


def _num(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if not isinstance(value, Real):
        try:
            value = float(value)  # numpy scalars, numeric strings
        except (TypeError, ValueError):
            return None
    value = float(value)
    return None if math.isnan(value) else value


def _signed(x: float, digits: int) -> str:
    if math.isinf(x):
        return "+∞" if x > 0 else "−∞"
    text = f"{x:+,.{digits}f}"
    if float(text.replace(",", "")) == 0:
        text = f"{0:.{digits}f}"  # no "-0.0" / "+0.0"
    return text.replace("-", "−")


def pct(value: object, digits: int = 1, signed: bool = True) -> str:
    """A percentage already in percent units: 12.3 → `+12.3%`."""
    x = _num(value)
    if x is None:
        return NA
    return (_signed(x, digits) if signed else num(x, digits)) + "%"


def pp(value: object, digits: int = 1) -> str:
    """Percentage points: 2 → `+2.0 pp`."""
    x = _num(value)
    return NA if x is None else _signed(x, digits) + " pp"


def rate(value: object, digits: int = 1) -> str:
    """A fraction 0..1 shown as a percentage: 0.5 → `50.0%`."""
    x = _num(value)
    return NA if x is None else num(x * 100, digits) + "%"


def money(value: object, digits: int | None = None) -> str:
    """Dollars; four decimals below $1 so per-trace costs stay readable."""
    x = _num(value)
    if x is None:
        return NA
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if digits is None:
        digits = 4 if abs(x) < 1 else 2
    text = f"${abs(x):,.{digits}f}"
    return ("−" + text) if x < 0 else text


def num(value: object, digits: int = 2) -> str:
    """A plain number with thousands separators; integers print without decimals."""
    x = _num(value)
    if x is None:
        return NA
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}".replace("-", "−")
    return f"{x:,.{digits}f}".replace("-", "−")


def change(value: object, digits: int = 1) -> str:
    """A signed change with no unit and no trailing `.0`: -100 → `−100`, 33.33 → `+33.3`."""
    x = _num(value)
    if x is None:
        return NA
    x = round(x, digits)
    return _signed(x, 0 if x == int(x) else digits)


def pvalue(value: object) -> str:
    """A p- or q-value: `<0.0001`, two significant digits below 0.1 (`0.0039`), else two decimals."""
    x = _num(value)
    if x is None or x < 0:
        return NA
    if x < 1e-4:
        return "<0.0001"
    if x < 0.1:
        return f"{x:.2g}"
    return "1" if x >= 0.995 else f"{x:.2f}"


def seconds(value: object, digits: int = 2) -> str:
    x = _num(value)
    return NA if x is None else num(round(x, digits), digits) + " s"


def ci(value: object, unit: str = "", digits: int = 1) -> str:
    """A confidence interval `[−1.2, +3.4]` with an optional unit (`%`, `pp`)."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        return NA
    lo, hi = _num(value[0]), _num(value[1])
    if lo is None or hi is None:
        return NA
    suffix = {"%": "%", "pp": " pp"}.get(unit, unit and f" {unit}")
    return f"[{_signed(lo, digits)}, {_signed(hi, digits)}]{suffix}"


def delta(value: object, unit: str = "%", digits: int = 1) -> str:
    """A change in its unit: `%` → pct, `pp` → pp, `$` → signed money, else a signed number."""
    if unit == "pp":
        return pp(value, digits)
    if unit == "%":
        return pct(value, digits)
    x = _num(value)
    if x is None:
        return NA
    if unit == "$":
        return ("+" if x >= 0 else "") + money(x)
    return _signed(x, digits) + (f" {unit}" if unit else "")


def value(value: object, unit: str = "", digits: int = 2) -> str:
    """A field's value in its unit (the unit strings FieldSpec uses: `%`, `pp`, `$`, `s`, ``)."""
    if unit == "$":
        return money(value)
    if unit == "s":
        return seconds(value, digits)
    if unit == "%":
        return pct(value, 1, signed=False)
    if unit == "pp":
        return pp(value)
    return num(value, digits)


FILTERS = {
    "pct": pct,
    "pp": pp,
    "rate": rate,
    "money": money,
    "num": num,
    "seconds": seconds,
    "ci": ci,
    "delta": delta,
    "value": value,
    "change": change,
    "pvalue": pvalue,
}

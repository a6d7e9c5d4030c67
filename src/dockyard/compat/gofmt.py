"""Go's ``fmt`` for the values a template handles: ``Sprint``, ``Sprintln``, ``Sprintf`` (verbs, flags, width,
precision, Go's ``%!verb(type=value)`` complaints) and ``%v`` of floats as Go prints them (``1.2e+08``).

Go's types as Python values: ``str`` string, ``bool`` bool, ``int`` int, ``float`` float64, ``None`` nil,
``list`` []interface {}, ``tuple`` []string, ``dict`` map[string]interface {}, and
:class:`dockyard.compat.gotypes.Struct` for a struct.
"""

from __future__ import annotations

import math
from typing import Any

from dockyard.compat.gotypes import NOVALUE, Byte, Struct, type_name


def _shortest_digits(x: float) -> tuple[str, int]:
    """The shortest decimal digits of ``abs(x)`` and the decimal point position (Go's ``digs.nd``/``dp``)."""
    from decimal import Decimal

    _, digits, exp = Decimal(repr(abs(x))).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    if text == "0":
        return "0", 1
    dp = len(digits) + int(exp)
    stripped = "".join(map(str, digits)).lstrip("0")
    dp -= len("".join(map(str, digits))) - len(stripped)
    return stripped.rstrip("0"), dp


def _fmt_e(digits: str, dp: int, prec: int, upper: bool = False) -> str:
    frac = digits[1:]
    if prec >= 0:
        frac = (frac + "0" * prec)[:prec]
    exp = dp - 1 if digits != "0" else 0
    mant = digits[0] + ("." + frac if frac else "")
    return f"{mant}{'E' if upper else 'e'}{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _fmt_f(digits: str, dp: int) -> str:
    if dp <= 0:
        return "0." + "0" * -dp + digits if digits != "0" else "0"
    if dp >= len(digits):
        return digits + "0" * (dp - len(digits))
    return digits[:dp] + "." + digits[dp:]


def format_float(x: float, verb: str = "v", prec: int = -1) -> str:
    """``strconv.FormatFloat`` as fmt calls it, sign included."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    neg = "-" if math.copysign(1.0, x) < 0 else ""
    if verb in "vgG" and prec < 0:
        digits, dp = _shortest_digits(x)
        exp = dp - 1
        if exp < -4 or exp >= (21 if verb == "V" else 6):
            return neg + _fmt_e(digits, dp, -1, verb == "G")
        return neg + _fmt_f(digits, dp)
    if verb in "eE":
        return f"{x:.{prec}{verb}}"
    if verb in "fF":
        return f"{x:.{prec}f}"
    if verb in "gG":
        return f"{x:.{prec}{verb}}"
    return repr(x)


def quote(text: str, ascii_only: bool = False) -> str:
    from dockyard.compat.gostrconv import go_quote

    q = go_quote(text)
    if ascii_only:
        q = "".join(c if ord(c) < 0x80 else (f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}") for c in q)
    return q


def _go_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


class _Spec:
    __slots__ = ("minus", "plus", "plus_v", "prec", "sharp", "space", "verb", "width", "zero")

    def __init__(self) -> None:
        self.minus = self.plus = self.plus_v = self.sharp = self.space = self.zero = False
        self.width: int | None = None
        self.prec: int | None = None
        self.verb = "v"


def _pad(text: str, spec: _Spec, zero_ok: bool = True) -> str:
    if spec.width is None or len(text) >= spec.width:
        return text
    fill = spec.width - len(text)
    if spec.minus:
        return text + " " * fill
    if spec.zero and zero_ok:
        return "0" * fill + text
    return " " * fill + text


def _bad(spec: _Spec, value: Any) -> str:
    if value is None or value is NOVALUE:
        return f"%!{spec.verb}(<nil>)"
    return f"%!{spec.verb}({type_name(value)}={_format(value, _plain('v'))})"


def _plain(verb: str) -> _Spec:
    s = _Spec()
    s.verb = verb
    return s


def _fmt_int(value: int, spec: _Spec) -> str:
    verb = spec.verb
    if verb == "c":
        return _pad(chr(value) if 0 <= value <= 0x10FFFF else "\ufffd", spec)
    if verb == "q":
        ch = chr(value) if 0 <= value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF else "\ufffd"
        q = quote(ch)[1:-1].replace('\\"', '"').replace("'", "\\'")
        return _pad("'" + q + "'", spec)
    if verb == "U":
        text = f"U+{value:04X}" if value >= 0 else f"U+{value & 0xFFFFFFFFFFFFFFFF:04X}"
        if spec.sharp and 0 <= value <= 0x10FFFF and (0x20 <= value < 0x7F or (value >= 0x80 and _printable(value))):
            text += f" '{chr(value)}'"
        return _pad(text, spec)
    base = {"d": 10, "v": 10, "b": 2, "o": 8, "O": 8, "x": 16, "X": 16}[verb]
    digits = format(abs(value), {2: "b", 8: "o", 10: "d", 16: "x" if verb != "X" else "X"}[base])
    if spec.prec is not None:
        if spec.prec == 0 and value == 0:
            digits = ""
        digits = digits.rjust(spec.prec, "0")
    elif spec.zero and spec.width is not None and not spec.minus:
        width = spec.width - (1 if value < 0 or spec.plus or spec.space else 0)
        if spec.sharp and base in (2, 16):
            width -= 2
        digits = digits.rjust(width, "0")
    prefix = ""
    if spec.sharp or verb == "O":
        if base == 8 and verb == "o" and not digits.startswith("0"):
            prefix = "0"
        elif verb == "O":
            prefix = "0o"
        elif base == 16:
            prefix = "0x" if verb == "x" else "0X"
        elif base == 2:
            prefix = "0b"
    sign = "-" if value < 0 else "+" if spec.plus else " " if spec.space else ""
    text = sign + prefix + digits
    return _pad(text, spec, zero_ok=False)


def _printable(code: int) -> bool:
    from dockyard.compat.gostrconv import is_graphic

    return is_graphic(chr(code))


def _fmt_float(value: float, spec: _Spec) -> str:
    verb = spec.verb
    if verb not in "veEfFgGxX":
        return _bad(spec, value)
    if verb in "xX" and spec.prec is None and math.isfinite(value):
        mant, _, exp = value.hex().partition("p")
        mant = mant.rstrip("0").rstrip(".")
        text = f"{mant}p{int(exp):+03d}"
        text = text.upper() if verb == "X" else text
        if spec.plus and not text.startswith("-"):
            text = "+" + text
        return _pad(text, spec, zero_ok=False)
    if verb == "v":
        text = format_float(value, "g", spec.prec if spec.prec is not None else -1)
    elif verb in "eEfF":
        text = format_float(value, verb, spec.prec if spec.prec is not None else 6)
    else:
        text = format_float(value, verb, spec.prec if spec.prec is not None else -1)
    if not text.startswith("-") and not text.startswith("+"):
        if spec.plus:
            text = "+" + text
        elif spec.space:
            text = " " + text
    elif text == "+Inf" and not spec.plus:
        text = " Inf" if spec.space else "Inf"
    if spec.zero and spec.width is not None and not spec.minus and text[-1:].isdigit():
        sign = text[0] if text[0] in "+- " else ""
        body = text[len(sign) :]
        return sign + body.rjust(spec.width - len(sign), "0")
    return _pad(text, spec, zero_ok=False)


def _fmt_str(value: str, spec: _Spec) -> str:
    verb = spec.verb
    if verb in "vs":
        text = value
        if spec.prec is not None:
            text = text[: spec.prec]
        return _pad(text, spec)
    if verb == "q":
        if spec.sharp and "`" not in value and all(c == "\t" or " " <= c != "\x7f" for c in value):
            return _pad("`" + value + "`", spec)
        return _pad(quote(value, spec.plus), spec)
    if verb in "xX":
        data = _go_bytes(value)
        if spec.prec is not None:
            data = data[: spec.prec]
        pattern = "{:02x}" if verb == "x" else "{:02X}"
        prefix = ("0x" if verb == "x" else "0X") if spec.sharp else ""
        parts = [prefix + pattern.format(b) for b in data]
        joined = (prefix if data else "") + "".join(pattern.format(b) for b in data)
        text = " ".join(parts) if spec.space else joined
        return _pad(text, spec)
    return _bad(spec, value)


def _format(value: Any, spec: _Spec) -> str:
    verb = spec.verb
    if value is None or value is NOVALUE:
        return _pad("<nil>", spec) if verb == "v" else _bad(spec, value)
    if isinstance(value, bool):
        return _pad("true" if value else "false", spec) if verb in "tv" else _bad(spec, value)
    if isinstance(value, int):
        if verb in "bcdoOqxXUv":
            return _fmt_int(value, spec)
        return _bad(spec, value)
    if isinstance(value, float):
        return _fmt_float(value, spec)
    if isinstance(value, complex):
        if verb not in "vbgGxXfFeE":
            return _bad(spec, value)
        imag = _Spec()
        imag.verb, imag.width, imag.prec, imag.zero, imag.minus, imag.plus = (
            verb, spec.width, spec.prec, spec.zero, spec.minus, True)  # fmt: skip
        return "(" + _fmt_float(value.real, spec) + _fmt_float(value.imag, imag) + "i)"
    if isinstance(value, str):
        return _fmt_str(value, spec)
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(_element(v, spec) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items())
        return "map[" + " ".join(_format(k, spec) + ":" + _element(v, spec) for k, v in items) + "]"
    if isinstance(value, Struct):
        if spec.plus_v:
            return "{" + " ".join(f"{k}:{_element(v, spec)}" for k, v in value.fields.items()) + "}"
        return "{" + " ".join(_element(v, spec) for v in value.fields.values()) + "}"
    return _pad(str(value), spec)


def _element(value: Any, spec: _Spec) -> str:
    """An element of a slice, map or struct: a nil ``interface{}`` there is ``<nil>`` whatever the verb."""
    return _pad("<nil>", spec) if value is None else _format(value, spec)


def sprint(*args: Any) -> str:
    """``fmt.Sprint``: a space between two operands when neither is a string."""
    out = []
    for i, arg in enumerate(args):
        if i > 0 and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(_format(arg, _plain("v")))
    return "".join(out)


def sprintln(*args: Any) -> str:
    return " ".join(_format(a, _plain("v")) for a in args) + "\n"


_FLAGS = "+-# 0"


def _parsenum(fmt: str, i: int) -> tuple[int, bool, int]:
    """Go's ``parsenum``: digits at ``i`` (a number above 1e6 is no number)."""
    num, isnum, j = 0, False, i
    while j < len(fmt) and "0" <= fmt[j] <= "9":
        if num > 1_000_000:
            return 0, False, len(fmt)
        num = num * 10 + ord(fmt[j]) - 48
        isnum = True
        j += 1
    return num, isnum, j


def _int_from_arg(args: tuple[Any, ...], argnum: int) -> tuple[int, bool, int]:
    if argnum >= len(args):
        return 0, False, argnum
    arg = args[argnum]
    if isinstance(arg, int) and not isinstance(arg, bool) and -1_000_000 <= arg <= 1_000_000:
        return int(arg), True, argnum + 1
    return 0, False, argnum + 1


class _Printf:
    """Go's ``doPrintf`` state: the argument number, reordering and ``[n]`` indexes."""

    def __init__(self, args: tuple[Any, ...]) -> None:
        self.args = args
        self.reordered = False
        self.good_arg_num = True

    def arg_number(self, argnum: int, fmt: str, i: int) -> tuple[int, int, bool]:
        if i >= len(fmt) or fmt[i] != "[":
            return argnum, i, False
        self.reordered = True
        close = fmt.find("]", i + 1) if len(fmt) - i >= 3 else -1
        if close < 0:
            index, width, ok = 0, 1, False
        else:
            num, isnum, newi = _parsenum(fmt, i + 1)
            index, width, ok = (num - 1, close - i + 1, True) if isnum and newi == close else (0, close - i + 1, False)
        if ok and 0 <= index < len(self.args):
            return index, i + width, True
        self.good_arg_num = False
        return argnum, i + width, ok


def sprintf(fmt: str, *args: Any) -> str:
    """``fmt.Sprintf`` (Go's ``doPrintf``): verbs, flags, width, precision, ``*`` and ``[n]`` indexes, and
    Go's complaints (``%!d(string=x)``, ``%!d(MISSING)``, ``%!(EXTRA ...)``, ``%!(BADINDEX)``, ...)."""
    out: list[str] = []
    state = _Printf(args)
    argnum = 0
    after_index = False
    i = 0
    end = len(fmt)
    while i < end:
        state.good_arg_num = True
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        spec = _Spec()
        while i < end and fmt[i] in _FLAGS:
            c = fmt[i]
            if c == "#":
                spec.sharp = True
            elif c == "0":
                spec.zero = not spec.minus
            elif c == "+":
                spec.plus = True
            elif c == "-":
                spec.minus, spec.zero = True, False
            else:
                spec.space = True
            i += 1
        argnum, i, after_index = state.arg_number(argnum, fmt, i)
        if i < end and fmt[i] == "*":
            i += 1
            width, present, argnum = _int_from_arg(args, argnum)
            if not present:
                out.append("%!(BADWIDTH)")
            spec.width = abs(width) if present else None
            if width < 0:
                spec.minus, spec.zero = True, False
            after_index = False
        else:
            width, present, i = _parsenum(fmt, i)
            spec.width = width if present else None
            if after_index and present:
                state.good_arg_num = False
        if i + 1 < end and fmt[i] == ".":
            i += 1
            if after_index:
                state.good_arg_num = False
            argnum, i, after_index = state.arg_number(argnum, fmt, i)
            if i < end and fmt[i] == "*":
                i += 1
                prec, present, argnum = _int_from_arg(args, argnum)
                if prec < 0:
                    prec, present = 0, False
                if not present:
                    out.append("%!(BADPREC)")
                spec.prec = prec if present else None
                after_index = False
            else:
                prec, present, i = _parsenum(fmt, i)
                spec.prec = prec if present else 0
        if not after_index:
            argnum, i, after_index = state.arg_number(argnum, fmt, i)
        if i >= end:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        spec.verb = verb
        if verb == "%":
            out.append("%")
        elif not state.good_arg_num:
            out.append(f"%!{verb}(BADINDEX)")
        elif argnum >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            out.append(_print_arg(args[argnum], spec))
            argnum += 1
    if not state.reordered and argnum < len(args):
        extra = ", ".join(
            "<nil>" if a is None or a is NOVALUE else f"{type_name(a)}={_format(a, _plain('v'))}" for a in args[argnum:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _print_arg(value: Any, spec: _Spec) -> str:
    verb = spec.verb
    if value is None or value is NOVALUE:
        return "<nil>" if verb in "vT" else f"%!{verb}(<nil>)"
    if verb == "T":
        return _pad(type_name(value), spec)
    if verb == "v" and spec.sharp:
        return _go_syntax(value)
    if verb == "v":
        spec.plus_v, spec.plus = spec.plus, False
    return _format(value, spec) if verb in "vsqdxXobOcUeEfFgGt" else _bad(spec, value)


def _go_syntax(value: Any) -> str:
    """``%#v``."""
    if value is None or value is NOVALUE:
        return "interface {}(nil)"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"0x{value:x}" if isinstance(value, Byte) else str(value)
    if isinstance(value, float):
        return format_float(value, "g", -1)
    if isinstance(value, (list, tuple)):
        return type_name(value) + "{" + ", ".join(_go_syntax(v) for v in value) + "}"
    if isinstance(value, dict):
        items = sorted(value.items())
        return type_name(value) + "{" + ", ".join(f"{quote(k)}:{_go_syntax(v)}" for k, v in items) + "}"
    if isinstance(value, Struct):
        return value.type_name + "{" + ", ".join(f"{k}:{_go_syntax(v)}" for k, v in value.fields.items()) + "}"
    return str(value)

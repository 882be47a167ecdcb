"""Assertions for hidden suites, with messages that speak to the candidate.

Every failure reads the same way, headed by the rule of the statement it checks (the `rule: `
prefix is added here when the suite's text lacks it):

    rule: a zero vector gives 0.0
      call:     cosine_similarity([0.0, 0.0], [1.0, 2.0])
      expected: 0.0
      actual:   nan

For arrays and tensors the type, shape and dtype are checked first, then the values, and a value
mismatch names the greatest difference and where it is. numpy and torch are imported lazily, so a
suite that needs neither pays for neither.
"""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Callable, Sequence
from typing import Any

from kata_runner.testing.tolerances import tolerance

__all__ = [
    "as_rule",
    "call_repr",
    "expect_array",
    "expect_close",
    "expect_equal",
    "expect_raises",
    "expect_tensor",
    "fail",
    "show",
]

RULE_PREFIX = "rule: "


def as_rule(text: str) -> str:
    """The headline of a failure: the statement's rule, prefixed `rule: ` once."""
    return text if text.startswith(RULE_PREFIX) else RULE_PREFIX + text


MAX_SHOWN_ELEMENTS = 24
_repr = reprlib.Repr()
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxdict = 12
_repr.maxstring = _repr.maxother = 120
_repr.maxlevel = 4


def _is_numpy(value: Any) -> bool:
    return type(value).__module__ == "numpy" and hasattr(value, "dtype")


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and type(value).__name__ in {
        "Tensor",
        "Parameter",
    }


ADDRESS = re.compile(r"(<[^<>'\"]*?) at 0x[0-9a-fA-F]+>")


def show(value: Any) -> str:
    """A compact, exact-enough rendering of a value for a failure message."""
    if _is_tensor(value):
        head = f"tensor(shape={tuple(value.shape)}, dtype={str(value.dtype).removeprefix('torch.')}"
        if value.numel() <= MAX_SHOWN_ELEMENTS:
            return f"{head}, {value.detach().cpu().tolist()})"
        return head + ")"
    if _is_numpy(value) and getattr(value, "ndim", 0) > 0:
        head = f"array(shape={value.shape}, dtype={value.dtype}"
        if value.size <= MAX_SHOWN_ELEMENTS:
            return f"{head}, {value.tolist()})"
        return head + ")"
    if _is_numpy(value):  # numpy scalar
        return f"{value.item()!r} ({value.dtype})"
    if isinstance(value, str):
        return _repr.repr(value)
    # `<bm25.BM25 object at 0x7f...>` -> `<bm25.BM25 object>`: the same verdict, the same message
    return ADDRESS.sub(r"\1>", _repr.repr(value))


def call_repr(fn: str, *args: Any, **kwargs: Any) -> str:
    """`fn(arg, ..., key=value)` with each argument rendered by `show`."""
    parts = [show(a) for a in args] + [f"{k}={show(v)}" for k, v in kwargs.items()]
    return f"{fn}({', '.join(parts)})"


def fail(
    headline: str,
    *,
    call: str | None = None,
    expected: Any = ...,
    actual: Any = ...,
    detail: str | None = None,
    show_values: bool = True,
) -> None:
    """Raise an AssertionError whose message is the rule, then call / expected / actual."""
    __tracebackhide__ = True
    lines = [as_rule(headline)]
    if call is not None:
        lines.append(f"  call:     {call}")
    if expected is not ...:
        lines.append(f"  expected: {show(expected) if show_values else expected}")
    if actual is not ...:
        lines.append(f"  actual:   {show(actual) if show_values else actual}")
    if detail:
        lines.extend(f"  {line}" for line in detail.splitlines())
    raise AssertionError("\n".join(lines))


def expect_equal(actual: Any, expected: Any, *, call: str, rule: str) -> None:
    """Exact equality (`==`), e.g. for lists of ints, strings and Python objects."""
    __tracebackhide__ = True
    try:
        equal = bool(actual == expected)
    except Exception:  # noqa: BLE001 - e.g. an array compared to a list has no truth value
        equal = False
    if not equal or (type(actual) is not type(expected) and not _same_kind(actual, expected)):
        fail(rule, call=call, expected=expected, actual=actual)


def _same_kind(actual: Any, expected: Any) -> bool:
    numbers = (int, float)
    return (
        isinstance(actual, numbers)
        and isinstance(expected, numbers)
        and not isinstance(actual, bool)
    )


def expect_close(
    actual: Any, expected: float, *, call: str, rule: str, rtol: float = 1e-9, atol: float = 1e-12
) -> None:
    """A real scalar close to `expected`: |actual - expected| <= atol + rtol * |expected|."""
    __tracebackhide__ = True
    try:
        value = float(actual)
    except (TypeError, ValueError):
        fail(
            f"{rule} (expected a real number, got {type(actual).__name__})",
            call=call,
            expected=expected,
            actual=actual,
        )
        return
    if hasattr(actual, "shape") and getattr(actual, "shape", ()) not in ((), None):
        fail(
            f"{rule} (expected a scalar, got shape {actual.shape})",
            call=call,
            expected=expected,
            actual=actual,
        )
    if not math.isclose(value, expected, rel_tol=rtol, abs_tol=atol) and not (
        math.isnan(value) and math.isnan(expected)
    ):
        fail(
            rule,
            call=call,
            expected=expected,
            actual=actual,
            detail=f"difference: {abs(value - expected):.3g} (allowed {atol + rtol * abs(expected):.3g})",
        )


def expect_raises(
    exc_type: type[BaseException],
    fn: Callable[..., Any],
    *args: Any,
    call: str,
    rule: str,
    **kwargs: Any,
) -> BaseException:
    """`fn(*args, **kwargs)` must raise `exc_type` (or a subclass); returns the exception."""
    __tracebackhide__ = True
    try:
        result = fn(*args, **kwargs)
    except exc_type as exc:
        return exc
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - any other exception is the wrong behaviour
        fail(
            rule,
            call=call,
            expected=f"raises {exc_type.__name__}",
            actual=f"raised {type(exc).__name__}: {exc}",
            show_values=False,
        )
    fail(
        rule,
        call=call,
        expected=f"raises {exc_type.__name__}",
        actual=f"returned {show(result)}",
        show_values=False,
    )
    raise AssertionError("unreachable")


def _where(index: Sequence[Any]) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def expect_array(
    actual: Any,
    expected: Any,
    *,
    call: str,
    rule: str,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    dtype: Any = None,
    dtype_kind: str | None = None,
    exact: bool = False,
) -> None:
    """A numpy array with `expected`'s shape whose values match within tolerance (or exactly).

    dtype: the exact dtype required, if any. dtype_kind: a numpy kind code ("i" integer, "f" float,
    "b" bool, "iu" any integer) required, if any.
    """
    __tracebackhide__ = True
    import numpy as np

    expected = np.asarray(expected)
    if not isinstance(actual, np.ndarray):
        fail(
            f"{rule} (expected a numpy array, got {type(actual).__name__})",
            call=call,
            expected=expected,
            actual=actual,
        )
    if actual.shape != expected.shape:
        fail(
            f"{rule}: wrong shape",
            call=call,
            expected=f"shape {expected.shape}",
            actual=f"shape {actual.shape}",
            show_values=False,
        )
    if dtype is not None and actual.dtype != np.dtype(dtype):
        fail(
            f"{rule}: wrong dtype",
            call=call,
            expected=f"dtype {np.dtype(dtype)}",
            actual=f"dtype {actual.dtype}",
            show_values=False,
        )
    if dtype_kind is not None and actual.dtype.kind not in dtype_kind:
        kinds = {"i": "signed integer", "u": "unsigned integer", "f": "floating", "b": "bool"}
        wanted = " or ".join(kinds.get(k, k) for k in dtype_kind)
        fail(
            f"{rule}: wrong dtype",
            call=call,
            expected=f"a {wanted} dtype",
            actual=f"dtype {actual.dtype}",
            show_values=False,
        )
    if actual.size == 0:
        return
    if exact or expected.dtype.kind in "biuUSO":
        bad = actual != expected
        if np.any(bad):
            index = tuple(np.argwhere(bad)[0])
            fail(
                rule,
                call=call,
                expected=expected,
                actual=actual,
                detail=f"first difference at {_where(index)}: expected {expected[index]!r}, got {actual[index]!r}"
                f" ({int(np.sum(bad))} of {bad.size} elements differ)",
            )
        return
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    allowed = atol + rtol * np.abs(e)
    diff = np.abs(a - e)
    bad = ~((diff <= allowed) | (np.isnan(a) & np.isnan(e)) | (a == e))
    if np.any(bad):
        scored = np.where(bad, np.nan_to_num(diff, nan=np.inf), -1.0)
        index = np.unravel_index(int(np.argmax(scored)), scored.shape)
        fail(
            rule,
            call=call,
            expected=expected,
            actual=actual,
            detail=f"greatest difference {diff[index]:.3g} at {_where(index)}: expected {e[index]!r}, got {a[index]!r}"
            f" (allowed {allowed[index]:.3g}); {int(np.sum(bad))} of {bad.size} elements differ",
        )


def expect_tensor(
    actual: Any,
    expected: Any,
    *,
    call: str,
    rule: str,
    rtol: float | None = None,
    atol: float | None = None,
    check_dtype: bool = True,
) -> None:
    """A torch tensor with `expected`'s shape and dtype whose values match within tolerance.

    Tolerances default by `expected`'s dtype (as torch.testing.assert_close); give both or neither.
    The report names the shape or dtype first, then the greatest difference and its index.
    """
    __tracebackhide__ = True
    import torch

    if not isinstance(actual, torch.Tensor):
        fail(
            f"{rule} (expected a torch.Tensor, got {type(actual).__name__})",
            call=call,
            expected=expected,
            actual=actual,
        )
    if tuple(actual.shape) != tuple(expected.shape):
        fail(
            f"{rule}: wrong shape",
            call=call,
            expected=f"shape {tuple(expected.shape)}",
            actual=f"shape {tuple(actual.shape)}",
            show_values=False,
        )
    dtype_name = str(expected.dtype).removeprefix("torch.")
    if check_dtype and actual.dtype != expected.dtype:
        fail(
            f"{rule}: wrong dtype",
            call=call,
            expected=f"dtype {dtype_name}",
            actual=f"dtype {str(actual.dtype).removeprefix('torch.')}",
            show_values=False,
        )
    if (rtol is None) != (atol is None):
        raise ValueError("give both rtol and atol, or neither")
    if rtol is None or atol is None:
        rtol, atol = tolerance(dtype_name)
    a = actual.detach().to("cpu", torch.float64)
    e = expected.detach().to("cpu", torch.float64)
    if a.numel() == 0:
        return
    diff = (a - e).abs()
    allowed = atol + rtol * e.abs()
    bad = ~((diff <= allowed) | (a.isnan() & e.isnan()) | (a == e))
    if bool(bad.any()):
        scored = torch.where(
            bad, torch.nan_to_num(diff, nan=float("inf")), torch.full_like(diff, -1.0)
        )
        flat = int(scored.flatten().argmax())
        index = [int(i) for i in torch.unravel_index(torch.tensor(flat), tuple(scored.shape))]
        at = tuple(index)
        fail(
            rule,
            call=call,
            detail=(
                f"shape {tuple(e.shape)} and dtype match; values differ.\n"
                f"greatest difference {float(diff[at]):.3g} at {_where(index)}: expected {float(e[at]):.6g}, "
                f"got {float(a[at]):.6g} (allowed {float(allowed[at]):.3g}); "
                f"{int(bad.sum())} of {bad.numel()} elements differ"
            ),
        )

"""Calling the attempt from a suite: one wrapper that turns an unexpected exception into a failure of
the rule being checked, and a recorder that keeps the program of calls for failure messages."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from kata_runner.testing.assertions import call_repr, fail

__all__ = ["Trace", "origin_of", "raised_at", "returns"]

# Exceptions that are verdicts of their own, never "the rule failed": the stub, memory, our timeout.
PASS_THROUGH: tuple[type[BaseException], ...] = (NotImplementedError, MemoryError)


def raised_at(exc: BaseException, filename: str | None = None) -> str | None:
    """`raised at line N, in name: source` for the innermost frame of the attempt (or of `filename`)."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if (f.filename == filename if filename is not None else "kata_runner" not in f.filename)
    ]
    if not frames:
        return None
    last = frames[-1]
    return f"raised at line {last.lineno}, in {last.name}: {(last.line or '').strip()}"


def returns(fn: Callable[..., Any], *args: Any, call: str, rule: str, **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)`; if it raises anything but NotImplementedError or MemoryError, fail
    with `rule` (the verdict stays an error of the attempt, shown with this rule)."""
    __tracebackhide__ = True
    try:
        return fn(*args, **kwargs)
    except PASS_THROUGH:
        raise
    except Exception as exc:
        try:
            fail(
                rule,
                call=call,
                expected="a result",
                actual=f"raised {type(exc).__name__}: {exc}",
                show_values=False,
                detail=raised_at(exc),
            )
        except AssertionError as failure:
            raise failure from exc
        raise AssertionError("unreachable") from exc


# A step is a call, (name, args, kwargs), rendered `name.method(*args)`, or literal text. Rendering
# waits for a failure, so recording costs next to nothing while Hypothesis runs and shrinks.
Step = tuple[str, tuple[Any, ...], dict[str, Any]] | str
MAX_STEPS_SHOWN = 40


class Trace:
    """An object under test that records every method call made through it, so a failure shows the
    whole program that led to it: `cache = LRUCache(2); cache.put(1, 'a'); cache.get(1)`.

        cache = Trace(impl.LRUCache(2), "cache", "cache = LRUCache(2)")
        cache.put(1, "a")            # recorded, then forwarded
        expect_equal(cache.get(1), "a", call=cache.program, rule="...")
        cache.note("1 in cache")     # record a step that is not a method call
    """

    steps: list[Step]

    def __init__(self, target: Any, name: str, first_step: str) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "steps", [first_step])

    @property
    def target(self) -> Any:
        return object.__getattribute__(self, "_target")

    @property
    def program(self) -> str:
        name = object.__getattribute__(self, "_name")
        shown = [
            s if isinstance(s, str) else call_repr(f"{name}.{s[0]}", *s[1], **s[2])
            for s in self.steps
        ]
        if len(shown) > MAX_STEPS_SHOWN:
            shown = [*shown[:5], f"... {len(shown) - 30} more calls ...", *shown[-25:]]
        return "; ".join(shown)

    def note(self, step: str) -> None:
        self.steps.append(step)

    def __getattr__(self, method: str) -> Callable[..., Any]:
        bound = getattr(object.__getattribute__(self, "_target"), method)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.steps.append((method, args, kwargs))
            return bound(*args, **kwargs)

        return call


def origin_of(impl: Any, returned: Any) -> int:
    """Which live object of the attempt `returned` came from, as a number: values reach the suite as
    copies, so two results with the same origin were the same object when the attempt returned them
    (the attempt handed out its internal state). Outside the door, the object's own id."""
    try:
        door = object.__getattribute__(impl, "_door")
    except AttributeError:
        return id(returned)
    found = door.origin(returned)
    return found if found is not None else id(returned)

"""Hidden suite for retry.

Nothing here really sleeps. Every run injects a recording `sleep`, a scripted `rng` and a fake
`clock` that moves only when the fake sleep is called or when a scripted attempt "takes" time; while
the attempt runs, `time.sleep` and `asyncio.sleep` are replaced by recorders too, so an attempt that
sleeps on its own is reported instead of stalling the run.

The oracle is `expected_run`: the statement's rules transcribed as a plain loop. Each run of the
attempt is compared with it as a whole: the list of sleeps, how many times fn was called, how many
times rng was called where a rule pins it, and what came out (the value fn returned on the right
attempt, or the very exception object fn raised, its `__cause__` untouched). The Level 4 properties
draw times on a grid of multiples of 1/8 second (and multipliers 1, 1.5, 2, 3), so every sum is
exact in binary floating point and the deadline's boundary, `clock() + delay > start + deadline`,
cannot be blurred by rounding.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kata_runner.testing import call_repr, expect_equal, expect_raises, fail, show, sleeps
from kata_runner.testing.sleeps import REAL_ASYNCIO_SLEEP, REAL_TIME_SLEEP

START = 1000.0  # the fake clock's reading when a run starts
DECORATION_GAP = 500.0  # seconds that pass between decorating and calling, in the retrying form
ARGS = ("The capital of France is",)  # what the retrying form passes to the decorated function
KWARGS = {"temperature": 0.25}
FORMS = ("retry", "retrying", "retry_async")


class TransientError(Exception):
    """What fn raises on a "fail" step; it has a `retry_after` attribute only when the step sets one."""


class PermanentError(Exception):
    """An error the tests keep outside retry_on."""


class Interrupt(BaseException):
    """A BaseException that is not an Exception."""


NO_HINT = object()  # a step without a `retry_after` attribute
AUTO = object()  # an "ok" step returns "result of attempt k"
CAUGHT = (Exception, Interrupt, asyncio.CancelledError)  # what an attempt may let out of a run


def num(x: Any) -> str:
    if isinstance(x, float):
        text = f"{x:.10g}"
        return text + ".0" if text.lstrip("-").isdigit() else text
    return repr(x)


# sleeps of the attempt's own are recorded with numbers as `num` writes them
no_real_sleep = functools.partial(sleeps.no_real_sleep, show=num)


@dataclass(frozen=True)
class Step:
    """What the scripted fn does on one attempt: raise `raises` (None: return a value), taking `takes` s."""

    raises: type[BaseException] | None = TransientError
    retry_after: Any = NO_HINT
    takes: float = 0.0
    value: Any = AUTO

    def __str__(self) -> str:
        if self.raises is None:
            name = "ok" if self.value is AUTO else f"ok (returns {self.value!r})"
        else:
            name = "fail" if self.raises is TransientError else self.raises.__name__
        extras = []
        if self.retry_after is not NO_HINT:
            extras.append(f"retry_after={num(self.retry_after)}")
        if self.takes:
            extras.append(f"takes {num(self.takes)} s")
        return f"{name} ({', '.join(extras)})" if extras else name


OK = Step(raises=None)
FAIL = Step()
FATAL = Step(raises=PermanentError)


def failing(*, retry_after: Any = NO_HINT, takes: float = 0.0) -> Step:
    return Step(TransientError, retry_after, takes)


def raising(exc_type: type[BaseException], *, retry_after: Any = NO_HINT) -> Step:
    return Step(exc_type, retry_after)


def returning(value: Any) -> Step:
    return Step(None, value=value)


# ---------------------------------------------------------------------------------------------
# The fake world of one run


class Env:
    """The scripted fn (and coro_fn), a recording sleep, a scripted rng and a fake clock."""

    def __init__(
        self,
        script: Sequence[Step] = (),
        rng_values: Sequence[float] = (0.5,),
        *,
        name: str = "",
        log: list[str] | None = None,
    ) -> None:
        self.script = tuple(script)
        self.rng_values = tuple(rng_values)
        self.name = name
        self.log = log if log is not None else []
        self.now = START
        self.calls = 0
        self.sleeps: list[Any] = []
        self.rng_calls = 0
        self.raised: dict[int, BaseException] = {}
        self.causes: dict[int, BaseException] = {}
        self.args_seen: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self.sleep_coroutines: list[Any] = []

    def step(self, k: int) -> Step:
        return self.script[k] if k < len(self.script) else FAIL

    def fn(self, *args: Any, **kwargs: Any) -> Any:
        k = self.calls
        self.calls += 1
        self.args_seen.append((args, kwargs))
        self.log.append(f"{self.name}{k}")
        step = self.step(k)
        self.now += step.takes
        if step.raises is None:
            return f"result of attempt {k}" if step.value is AUTO else step.value
        exc = step.raises(f"attempt {k}")
        if step.retry_after is not NO_HINT:
            exc.retry_after = step.retry_after  # type: ignore[attr-defined]
        cause = ConnectionResetError(f"connection reset (attempt {k})")
        self.raised[k], self.causes[k] = exc, cause
        raise exc from cause

    async def coro_fn(self) -> Any:
        return self.fn()  # no await before the attempt: only the sleep may yield to the loop

    def sleep(self, delay: Any, /) -> None:
        self.sleeps.append(delay)
        self.now += delay

    def async_sleep(self, delay: Any, /) -> Any:
        async def sleeping() -> None:
            self.sleep(delay)
            await REAL_ASYNCIO_SLEEP(0)  # let other tasks run, as a real sleep would

        coroutine = sleeping()
        self.sleep_coroutines.append(coroutine)
        return coroutine

    def rng(self) -> float:
        value = self.rng_values[self.rng_calls % len(self.rng_values)]
        self.rng_calls += 1
        return value

    def clock(self) -> float:
        return self.now

    def close_unawaited(self) -> int:
        """Close the sleep coroutines nobody awaited (no 'never awaited' warning); return how many."""
        unawaited = [
            c for c in self.sleep_coroutines if inspect.getcoroutinestate(c) == inspect.CORO_CREATED
        ]
        for coroutine in unawaited:
            coroutine.close()
        return len(unawaited)


@dataclass
class Run:
    """What came out of one run of the attempt."""

    env: Env
    value: Any = None
    error: BaseException | None = None
    real_sleeps: list[str] = field(default_factory=list)
    unawaited: int = 0


def capture(impl: Any, env: Env, thunk: Callable[[], Any]) -> Run:
    run = Run(env)
    with no_real_sleep(impl) as real_sleeps:
        try:
            run.value = thunk()
        except NotImplementedError:
            raise
        except CAUGHT as exc:
            run.error = exc
    run.real_sleeps = real_sleeps
    run.unawaited = env.close_unawaited()
    return run


def run_async(impl: Any, env: Env, options: dict[str, Any]) -> Any:
    async def main() -> Any:
        return await impl.retry_async(env.coro_fn, **options)

    return asyncio.run(main())


def execute(impl: Any, form: str, env: Env, options: dict[str, Any]) -> Run:
    """Run the attempt's `form` on env's script; clock is injected only when a deadline is given."""
    injected = {**options, "sleep": env.sleep, "rng": env.rng}
    if "deadline" in options:
        injected["clock"] = env.clock
    if form == "retry":
        return capture(impl, env, lambda: impl.retry(env.fn, **injected))
    if form == "retrying":

        def call() -> Any:
            decorated = impl.retrying(**injected)(env.fn)
            env.now += DECORATION_GAP
            return decorated(*ARGS, **KWARGS)

        return capture(impl, env, call)
    injected["sleep"] = env.async_sleep
    return capture(impl, env, lambda: run_async(impl, env, injected))


# ---------------------------------------------------------------------------------------------
# The oracle: the rules of the statement, transcribed

DEFAULTS: dict[str, Any] = {
    "max_attempts": 3,
    "base_delay": 0.1,
    "max_delay": 10.0,
    "multiplier": 2.0,
    "jitter": False,
    "retry_on": (Exception,),
    "deadline": None,
}


@dataclass
class Expected:
    sleeps: list[float]
    calls: int
    rng_calls: int
    returns: Any = None  # the value fn returned on the last attempt, if it returned
    raises_from: int | None = None  # the attempt whose exception comes out, if one does
    ended_by: str = "ok"  # ok, not_retried, final (attempt) or deadline


def expected_run(
    script: Sequence[Step],
    options: dict[str, Any],
    rng_values: Sequence[float] = (0.5,),
    start: float = START,
    deadline_from: float | None = None,
) -> Expected:
    """The run the rules give, the clock reading `start` when the call starts (and the deadline
    measured from there, unless `deadline_from` says otherwise)."""
    o = {**DEFAULTS, **options}
    deadline_start = start if deadline_from is None else deadline_from
    now, sleeps, rng_calls = start, [], 0
    for i in range(o["max_attempts"]):
        step = script[i] if i < len(script) else FAIL
        now += step.takes
        if step.raises is None:
            value = f"result of attempt {i}" if step.value is AUTO else step.value
            return Expected(sleeps, i + 1, rng_calls, returns=value)
        if not issubclass(step.raises, o["retry_on"]):
            return Expected(sleeps, i + 1, rng_calls, raises_from=i, ended_by="not_retried")
        if i == o["max_attempts"] - 1:
            return Expected(sleeps, i + 1, rng_calls, raises_from=i, ended_by="final")
        if step.retry_after is not NO_HINT and step.retry_after is not None:
            delay = min(o["max_delay"], step.retry_after)
        else:
            delay = min(o["max_delay"], o["base_delay"] * o["multiplier"] ** i)
            if o["jitter"]:
                delay = rng_values[rng_calls % len(rng_values)] * delay
                rng_calls += 1
        if o["deadline"] is not None and now + delay > deadline_start + o["deadline"]:
            return Expected(sleeps, i + 1, rng_calls, raises_from=i, ended_by="deadline")
        sleeps.append(delay)
        now += delay
    raise AssertionError("unreachable: the final attempt always ends the loop")


def start_of(form: str) -> float:
    return START + DECORATION_GAP if form == "retrying" else START


# ---------------------------------------------------------------------------------------------
# Rules, as the statement words them

RULE_FIRST = (
    "rule: the first sleep is base_delay: attempt i is followed by base_delay * multiplier ** i, "
    "with i counted from 0"
)
RULE_SCHEDULE = (
    "rule: attempt i (counted from 0) that fails is followed, if attempts remain, by "
    "sleep(min(max_delay, base_delay * multiplier ** i))"
)
RULE_CAP = "rule: every delay is capped at max_delay: min(max_delay, base_delay * multiplier ** i)"
RULE_FINAL = (
    "rule: no sleep after the final attempt: fn is called at most max_attempts times, then the last "
    "exception is re-raised at once"
)
RULE_SAME = (
    "rule: the last exception is re-raised as the same object (not wrapped, copied or chained), "
    "its __cause__ untouched"
)
RULE_PROPAGATE = "rule: an exception not in retry_on propagates at once: no sleep, no further call"
RULE_RETRY_ON = (
    "rule: retry_on is a class or a tuple of classes, matched as `except retry_on:` matches "
    "(subclasses match, () matches nothing, BaseException subclasses allowed)"
)
RULE_JITTER = (
    "rule: full jitter: with jitter=True the sleep is rng() * min(max_delay, base_delay * multiplier ** i), "
    "one rng() call per jittered delay"
)
RULE_RNG = "rule: rng() is called exactly once per jittered delay, and never when jitter=False"
RULE_RESULT = "rule: only an exception is a failure: fn's return value is returned unchanged, even None, 0 or ''"
RULE_DEFAULTS = (
    "rule: the defaults are max_attempts=3, base_delay=0.1, max_delay=10.0, multiplier=2.0, "
    "jitter=False, retry_on=(Exception,)"
)
RULE_INVALID = (
    "rule: max_attempts < 1, base_delay < 0, max_delay < 0 or multiplier < 1 raise ValueError "
    "before fn is first called"
)
RULE_VALID_EDGES = (
    "rule: max_attempts=1, base_delay=0, max_delay=0 and multiplier=1 are valid options"
)
RULE_ALL = (
    "rule: the whole run follows the statement: sleep(min(max_delay, base_delay * multiplier ** i)) "
    "(× rng() with jitter) after each retried failure but the last; exceptions outside retry_on "
    "propagate at once; the last exception is re-raised as the same object"
)
RULE_NO_REAL_SLEEP = (
    "rule: sleep only through the injected sleep (awaited in retry_async); never call time.sleep, "
    "which would also block the event loop, or asyncio.sleep yourself"
)
RULE_AWAIT_SLEEP = "rule: between attempts retry_async awaits sleep(delay); calling it without await sleeps nothing"


# ---------------------------------------------------------------------------------------------
# Comparing a run with the oracle, and saying what went wrong


def option_text(value: Any) -> str:
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, tuple):
        inner = ", ".join(option_text(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return num(value)


def describe(
    form: str, options: dict[str, Any], script: Sequence[Step], rng_values: Sequence[float] = (0.5,)
) -> str:
    shown = ", ".join(f"{k}={option_text(v)}" for k, v in options.items())
    injected = "sleep, rng" + (", clock" if "deadline" in options else "")
    if form == "retry":
        head = f"retry(fn{', ' + shown if shown else ''})"
    elif form == "retrying":
        head = f"retrying({shown})(fn)({', '.join(map(repr, ARGS))}, temperature={KWARGS['temperature']})"
    else:
        head = f"await retry_async(coro_fn{', ' + shown if shown else ''})"
    steps = ", ".join(str(s) for s in script)
    if not script or script[-1].raises is not None:  # the fake fails on every call past its script
        steps = f"{steps}, then fail on every call" if script else "fail on every call"
    lines = [f"{head}  ({injected} injected)", f"  fn:       {steps}"]
    if options.get("jitter"):
        values = ", ".join(num(v) for v in rng_values)
        cycle = (
            f"returns {values} in turn, then again"
            if len(rng_values) > 1
            else f"always returns {values}"
        )
        lines.append(f"  rng:      {cycle}")
    if "deadline" in options:
        gap = (
            f"; {num(DECORATION_GAP)} s pass between decorating and calling"
            if form == "retrying"
            else ""
        )
        lines.append(
            f"  clock:    {num(start_of(form))} when the call starts, then moves only by sleeps "
            f"and by steps that take time{gap}"
        )
    return "\n".join(lines)


def seq(delays: Sequence[Any]) -> str:
    return "[" + ", ".join(num(d) if isinstance(d, float | int) else repr(d) for d in delays) + "]"


def times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def close(actual: Any, expected: float) -> bool:
    try:
        return math.isclose(float(actual), expected, rel_tol=1e-9, abs_tol=1e-12)
    except (TypeError, ValueError):
        return False


def same_sleeps(actual: Sequence[Any], expected: Sequence[float]) -> bool:
    return len(actual) == len(expected) and all(
        close(a, e) for a, e in zip(actual, expected, strict=True)
    )


def error_text(exc: BaseException, env: Env) -> str:
    for k, raised in env.raised.items():
        if exc is raised:
            text = f"raises the {type(exc).__name__} fn raised on attempt {k}"
            if exc.__cause__ is not env.causes[k]:
                text += f", but with its __cause__ changed to {exc.__cause__!r}"
            return text
    text = f"raises a new {type(exc).__name__}({str(exc)!r}) that fn never raised"
    linked = exc.__cause__ or exc.__context__
    for k, raised in env.raised.items():
        if linked is raised:
            text += f" (chained to the {type(raised).__name__} of attempt {k})"
    return text


def outcome_matches(run: Run, expected: Expected) -> bool:
    if expected.raises_from is None:
        return (
            run.error is None
            and type(run.value) is type(expected.returns)
            and run.value == expected.returns
        )
    k = expected.raises_from
    return (
        run.error is not None
        and run.error is run.env.raised.get(k)
        and run.error.__cause__ is run.env.causes[k]
    )


def summary(sleeps: Sequence[Any], calls: int, rng_calls: int | None, outcome: str) -> str:
    parts = [f"sleeps {seq(sleeps)}", f"fn called {times(calls)}"]
    if rng_calls is not None:
        parts.append(f"rng called {times(rng_calls)}")
    return "; ".join([*parts, outcome])


def first_difference(run: Run, expected: Expected) -> str:
    actual = run.env.sleeps
    for j, (a, e) in enumerate(zip(actual, expected.sleeps, strict=False)):
        if not close(a, e):
            return f"first difference: the sleep after attempt {j}: expected {num(e)}, got {seq([a])[1:-1]}"
    if len(actual) > len(expected.sleeps):
        j = len(expected.sleeps)
        why = {
            "final": " (the final attempt)",
            "deadline": " (where the deadline ends the run)",
            "not_retried": " (whose exception is not in retry_on)",
        }.get(expected.ended_by, "")
        return f"first difference: an extra sleep after attempt {j}{why}"
    if len(actual) < len(expected.sleeps):
        return f"first difference: no sleep after attempt {len(actual)}, where {num(expected.sleeps[len(actual)])} was due"
    if run.env.calls != expected.calls:
        return (
            f"first difference: fn was called {times(run.env.calls)}, not {times(expected.calls)}"
        )
    if run.env.rng_calls != expected.rng_calls:
        return f"first difference: rng was called {times(run.env.rng_calls)}, not {times(expected.rng_calls)}"
    return "first difference: what came out of the call"


def broken_rule(run: Run, expected: Expected, rule: str, check_rng: bool) -> str:
    """The rule a failing run broke: the test's own, unless the run shows plainly that it broke another."""
    env, n = run.env, len(expected.sleeps)
    extra_sleep = len(env.sleeps) > n and same_sleeps(env.sleeps[:n], expected.sleeps)
    if extra_sleep and expected.ended_by == "final":
        return RULE_FINAL
    if (
        same_sleeps(env.sleeps, expected.sleeps)
        and env.calls == expected.calls
        and (not check_rng or env.rng_calls == expected.rng_calls)
    ):
        return RULE_RESULT if expected.raises_from is None else RULE_SAME
    return rule


def matches(run: Run, expected: Expected, check_rng: bool) -> bool:
    """The run's sleeps, calls of fn, (rng calls,) and outcome are the oracle's."""
    env = run.env
    return (
        same_sleeps(env.sleeps, expected.sleeps)
        and env.calls == expected.calls
        and (not check_rng or env.rng_calls == expected.rng_calls)
        and outcome_matches(run, expected)
    )


def check(run: Run, expected: Expected, *, rule: str, call: str, check_rng: bool = False) -> None:
    """The run must match the oracle: sleeps, calls of fn, (rng calls,) and the value or the very exception."""
    __tracebackhide__ = True
    env = run.env
    exp_outcome = (
        f"returns {show(expected.returns)}"
        if expected.raises_from is None
        else f"raises the {env.step(expected.raises_from).raises.__name__} fn raised on attempt "
        f"{expected.raises_from}"
    )
    got_outcome = f"returns {show(run.value)}" if run.error is None else error_text(run.error, env)
    want = summary(
        expected.sleeps, expected.calls, expected.rng_calls if check_rng else None, exp_outcome
    )
    got = summary(env.sleeps, env.calls, env.rng_calls if check_rng else None, got_outcome)
    if run.real_sleeps:
        fail(
            RULE_NO_REAL_SLEEP,
            call=call,
            expected=f"the injected sleep called with {seq(expected.sleeps)}",
            actual=f"{', '.join(run.real_sleeps)} called; the injected sleep got {seq(env.sleeps)}",
            show_values=False,
        )
    if run.unawaited:
        fail(
            RULE_AWAIT_SLEEP,
            call=call,
            expected=want,
            actual=got,
            show_values=False,
            detail=f"sleep(...) was called {times(run.unawaited)} without its coroutine being awaited",
        )
    if not matches(run, expected, check_rng):
        fail(
            broken_rule(run, expected, rule, check_rng),
            call=call,
            expected=want,
            actual=got,
            show_values=False,
            detail=first_difference(run, expected),
        )


def check_arguments(run: Run, call: str) -> None:
    __tracebackhide__ = True
    wrong = [seen for seen in run.env.args_seen if seen != (ARGS, KWARGS)]
    if wrong:
        fail(
            "rule: the decorated function passes its positional and keyword arguments through on every attempt",
            call=call,
            expected=f"every attempt called with args {ARGS!r}, kwargs {KWARGS!r}",
            actual=f"an attempt called with args {wrong[0][0]!r}, kwargs {wrong[0][1]!r}",
            show_values=False,
        )


def run_and_check(
    impl: Any,
    form: str,
    script: Sequence[Step],
    options: dict[str, Any],
    *,
    rule: str,
    rng_values: Sequence[float] = (0.5,),
    check_rng: bool = False,
) -> Run:
    __tracebackhide__ = True
    env = Env(script, rng_values)
    run = execute(impl, form, env, options)
    expected = expected_run(script, options, rng_values, start_of(form))
    call = describe(form, options, script, rng_values)
    if (
        form == "retrying"
        and options.get("deadline") is not None
        and not matches(run, expected, check_rng)
        and matches(
            run, expected_run(script, options, rng_values, start_of(form), START), check_rng
        )
    ):
        rule = RULE_PER_CALL  # the run follows a deadline that started at decoration
    check(run, expected, rule=rule, call=call, check_rng=check_rng)
    if form == "retrying":
        check_arguments(run, call)
    return run


def check_value_error(impl: Any, form: str, options: dict[str, Any], rule: str) -> None:
    """Invalid options: ValueError before fn is first called (for retrying, when retrying is called)."""
    __tracebackhide__ = True
    if form == "retrying":
        expect_raises(
            ValueError, impl.retrying, **options, call=call_repr("retrying", **options), rule=rule
        )
        return
    env = Env()
    run = execute(impl, form, env, options)
    call = describe(form, options, ()).split("\n")[0]
    if not isinstance(run.error, ValueError) or env.calls or env.sleeps:
        got = (
            "returned " + show(run.value)
            if run.error is None
            else f"raised {type(run.error).__name__}: {run.error}"
        )
        fail(
            rule,
            call=call,
            expected="raises ValueError; fn never called, nothing slept",
            actual=f"{got}; fn called {times(env.calls)}; sleeps {seq(env.sleeps)}",
            show_values=False,
        )


def check_default(impl: Any, name: str, parameter: str, default: Any, spelled: str) -> None:
    __tracebackhide__ = True
    try:
        found = inspect.signature(getattr(impl, name)).parameters[parameter].default
    except (KeyError, TypeError, ValueError) as exc:
        found = f"<no parameter {parameter!r}: {exc}>"
    # `==` as well as `is`: a function reached through the attempt comes back wrapped, and the
    # wrapper compares equal to what it wraps.
    if not (found is default or found == default):
        fail(
            f"rule: the default {spelled} is bound in the signature of {name} ({parameter}={spelled})",
            call=f"inspect.signature({name}).parameters[{parameter!r}].default",
            expected=spelled,
            actual=found,
        )


CASES_SCHEDULE = [  # (options, script, rule), each run through every form at its level
    ({"max_attempts": 4}, (FAIL, FAIL, OK), RULE_FIRST),
    (
        {"max_attempts": 4, "base_delay": 1.0, "multiplier": 3.0, "max_delay": 100.0},
        (FAIL, FAIL, FAIL, OK),
        RULE_FIRST,
    ),
    # The cap before the README's table, which reaches it too: a missing cap fails its own case first.
    ({"max_attempts": 4, "base_delay": 1.0, "multiplier": 10.0, "max_delay": 5.0}, (), RULE_CAP),
    ({"max_attempts": 3, "base_delay": 2.0, "max_delay": 0.5}, (FAIL, FAIL, OK), RULE_CAP),
    (
        {"max_attempts": 5, "base_delay": 0.5, "multiplier": 3.0, "max_delay": 4.0},
        (),
        RULE_SCHEDULE,
    ),
    ({"max_attempts": 3}, (), RULE_FINAL),
    ({"max_attempts": 1}, (), RULE_FINAL),
    ({"max_attempts": 2}, (FAIL, FAIL, OK), RULE_FINAL),
    ({"max_attempts": 2, "base_delay": 1.0}, (FAIL, FAIL), RULE_SAME),
    ({"retry_on": TransientError}, (FATAL,), RULE_PROPAGATE),
    ({"retry_on": TransientError, "max_attempts": 5}, (FAIL, FATAL, OK), RULE_PROPAGATE),
]
CASE_IDS = [
    "first-sleep-0.1",
    "first-sleep-1",
    "cap-5",
    "cap-below-base",
    "readme-table",
    "final-of-3",
    "final-of-1",
    "final-before-ok",
    "same-object",
    "fatal-first",
    "fatal-second",
]

CASES_JITTER = [  # (options, script, rng values)
    (
        {"max_attempts": 5, "base_delay": 1.0, "multiplier": 2.0, "max_delay": 3.0, "jitter": True},
        (),
        (0.5, 0.25, 0.75, 0.1),
    ),
    (
        {"max_attempts": 5, "base_delay": 0.5, "multiplier": 3.0, "max_delay": 4.0, "jitter": True},
        (FAIL,) * 4 + (OK,),
        (0.5, 0.25, 0.1, 0.8),
    ),
]


# ---------------------------------------------------------------------------------------------
# Level 1: retry


@pytest.mark.level(1)
@pytest.mark.parametrize(("options", "script", "rule"), CASES_SCHEDULE, ids=CASE_IDS)
def test_retry_follows_the_capped_exponential_schedule(impl, options, script, rule):
    run_and_check(impl, "retry", script, options, rule=rule)


@pytest.mark.level(1)
@pytest.mark.parametrize(
    "script",
    [(OK,), (returning(None),), (returning(0),), (returning(""),), (FAIL, returning([]))],
    ids=["value", "None", "0", "empty-str", "fail-then-[]"],
)
def test_only_an_exception_is_a_failure(impl, script):
    run_and_check(impl, "retry", script, {"max_attempts": 3}, rule=RULE_RESULT)


@pytest.mark.level(1)
@pytest.mark.parametrize(
    ("options", "script"),
    [
        ({"max_attempts": 3}, ()),
        ({"max_attempts": 1}, ()),
        ({"retry_on": (OSError,)}, (raising(ConnectionError),)),
    ],
    ids=["after-3", "after-1", "oserror"],
)
def test_the_last_exception_is_reraised_as_the_same_object(impl, options, script):
    # fn raises a fresh exception on every attempt, `from` a fresh ConnectionResetError: only the
    # very object of the last attempt, with that very __cause__, passes.
    run_and_check(impl, "retry", script, options, rule=RULE_SAME)


@pytest.mark.level(1)
@pytest.mark.parametrize(
    ("retry_on", "exc_type"),
    [
        (OSError, ConnectionError),
        ((KeyError, OSError), TimeoutError),
        ((KeyError, OSError), ValueError),
        ((), TransientError),
        (Interrupt, Interrupt),
        ((Interrupt, TransientError), TransientError),
        ((Exception,), Interrupt),
    ],
    ids=[
        "subclass",
        "tuple-subclass",
        "tuple-miss",
        "empty-tuple",
        "base-exception",
        "tuple-hit",
        "not-exception",
    ],
)
def test_retry_on_matches_as_except_does(impl, retry_on, exc_type):
    script = (raising(exc_type), raising(exc_type), OK)
    run_and_check(impl, "retry", script, {"retry_on": retry_on}, rule=RULE_RETRY_ON)


@pytest.mark.level(1)
@pytest.mark.parametrize(("options", "script", "rng_values"), CASES_JITTER, ids=["cap-3", "readme"])
def test_full_jitter_scales_the_capped_delay_by_rng(impl, options, script, rng_values):
    run_and_check(
        impl, "retry", script, options, rule=RULE_JITTER, rng_values=rng_values, check_rng=True
    )


@pytest.mark.level(1)
@pytest.mark.parametrize(
    ("options", "script"),
    [
        ({"max_attempts": 4}, ()),
        ({"max_attempts": 4, "jitter": False}, ()),
        ({"jitter": True}, (OK,)),
        ({"jitter": True, "max_attempts": 1}, ()),
        ({"jitter": True, "retry_on": TransientError}, (FAIL, FATAL)),
    ],
    ids=["default", "jitter-false", "no-failure", "single-attempt", "fatal-after-one-sleep"],
)
def test_rng_is_called_once_per_jittered_delay_only(impl, options, script):
    run_and_check(impl, "retry", script, options, rule=RULE_RNG, rng_values=(0.25,), check_rng=True)


@pytest.mark.level(1)
def test_defaults_are_the_stated_ones(impl):
    run_and_check(impl, "retry", (), {}, rule=RULE_DEFAULTS, check_rng=True)
    run_and_check(impl, "retry", (), {"max_attempts": 10}, rule=RULE_DEFAULTS, check_rng=True)
    run_and_check(impl, "retry", (raising(ValueError), raising(Interrupt)), {}, rule=RULE_DEFAULTS)
    check_default(impl, "retry", "sleep", REAL_TIME_SLEEP, "time.sleep")
    check_default(impl, "retry", "rng", random.random, "random.random")


@pytest.mark.level(1)
@pytest.mark.parametrize(
    "options",
    [
        {"max_attempts": 0},
        {"max_attempts": -2},
        {"base_delay": -0.1},
        {"max_delay": -1.0},
        {"multiplier": 0.5},
        {"multiplier": 0.0},
    ],
    ids=[
        "attempts-0",
        "attempts-negative",
        "base-negative",
        "max-negative",
        "multiplier-half",
        "multiplier-0",
    ],
)
def test_invalid_options_raise_value_error_before_fn_is_called(impl, options):
    check_value_error(impl, "retry", options, RULE_INVALID)


@pytest.mark.level(1)
@pytest.mark.parametrize(
    "options",
    [
        {"max_attempts": 1},
        {"base_delay": 0.0},
        {"max_delay": 0.0},
        {"multiplier": 1.0, "base_delay": 0.75},
    ],
    ids=["one-attempt", "base-0", "max-0", "multiplier-1"],
)
def test_boundary_options_are_valid(impl, options):
    run_and_check(impl, "retry", (), options, rule=RULE_VALID_EDGES)


retry_ons = st.sampled_from(
    [
        TransientError,
        (TransientError,),
        (KeyError, TransientError),
        Exception,
        (Exception,),
        (PermanentError, TransientError),
        ValueError,
    ]
)
steps = st.sampled_from([FAIL, FAIL, FAIL, FATAL, OK, raising(ValueError), returning(None)])


@st.composite
def configurations(draw: st.DrawFn) -> dict[str, Any]:
    """Options for a run; each one left at its default half of the time."""
    choices = {
        "max_attempts": st.integers(1, 8),
        "base_delay": st.floats(0, 5),
        "max_delay": st.floats(0, 20),
        "multiplier": st.floats(1, 4),
        "jitter": st.booleans(),
        "retry_on": retry_ons,
    }
    return {
        key: draw(strategy, label=key) for key, strategy in choices.items() if draw(st.booleans())
    }


rng_lists = st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=6)


@pytest.mark.level(1)
@given(options=configurations(), script=st.lists(steps, max_size=9), rng_values=rng_lists)
def test_any_run_follows_the_rules(impl, options, script, rng_values):
    run_and_check(
        impl, "retry", script, options, rule=RULE_ALL, rng_values=rng_values, check_rng=True
    )


@pytest.mark.level(1)
@given(options=configurations(), rng_values=rng_lists)
def test_delays_stay_within_zero_and_max_delay_and_never_shrink_without_jitter(
    impl, options, rng_values
):
    options = {k: v for k, v in options.items() if k != "retry_on"}  # every failure is retried
    env = Env((), rng_values)
    run = execute(impl, "retry", env, options)
    o = {**DEFAULTS, **options}
    call = describe("retry", options, (), rng_values)
    delays = env.sleeps
    if run.real_sleeps or len(delays) != o["max_attempts"] - 1:
        fail(
            RULE_FINAL,
            call=call,
            expected=f"{o['max_attempts'] - 1} sleeps",
            actual=f"{len(delays)} sleeps {seq(delays)}"
            + (f"; {', '.join(run.real_sleeps)}" if run.real_sleeps else ""),
            show_values=False,
        )
    for i, d in enumerate(delays):
        if not 0.0 <= d <= o["max_delay"]:
            fail(
                "rule: every delay is in [0, max_delay]",
                call=call,
                expected=f"0 <= delay <= {num(o['max_delay'])}",
                actual=f"the sleep after attempt {i} is {num(d)}; sleeps {seq(delays)}",
                show_values=False,
            )
    if not o["jitter"]:
        for i in range(1, len(delays)):
            if delays[i] < delays[i - 1] * (1 - 1e-12):
                fail(
                    "rule: without jitter the delays never shrink (multiplier >= 1, then the cap)",
                    call=call,
                    expected="a non-decreasing sequence",
                    actual=f"sleeps {seq(delays)}",
                    show_values=False,
                )


# ---------------------------------------------------------------------------------------------
# Level 2: retrying

RULE_WRAPS = (
    "rule: the decorated function keeps the original's __name__ and __doc__ (functools.wraps)"
)
RULE_INDEPENDENT = (
    "rule: each call of the decorated function retries independently, starting again at attempt 0 "
    "with its own count"
)
RULE_DECORATION = "rule: retrying validates its options when it is called, at decoration time (ValueError at once)"
RULE_DECORATED = "rule: a call of the decorated function retries exactly as retry would"


class Switch:
    """One decorated function, many runs: its fn, sleep and rng go to the Env of the current run."""

    def __init__(self) -> None:
        self.env = Env()

    def fn(self, *args: Any, **kwargs: Any) -> Any:
        return self.env.fn(*args, **kwargs)

    def sleep(self, delay: Any, /) -> None:
        self.env.sleep(delay)

    def rng(self) -> float:
        return self.env.rng()

    def clock(self) -> float:
        return self.env.clock()


def check_repeated_calls(
    impl: Any,
    options: dict[str, Any],
    scripts: Sequence[Sequence[Step]],
    *,
    rule: str,
    rng_values: Sequence[float] = (0.5,),
    pause: float = 0.0,
) -> None:
    """Decorate once, then call the decorated function once per script; each call must match the oracle."""
    __tracebackhide__ = True
    switch = Switch()
    injected = {**options, "sleep": switch.sleep, "rng": switch.rng}
    if "deadline" in options:
        injected["clock"] = switch.clock
    decorated = impl.retrying(**injected)(switch.fn)
    for j, script in enumerate(scripts):
        switch.env = env = Env(script, rng_values)
        env.now = start = START + j * pause
        run = capture(impl, env, lambda: decorated(*ARGS, **KWARGS))
        expected = expected_run(script, options, rng_values, start)
        call = describe("retrying", options, script, rng_values).replace(
            "(fn)(", f"(fn), decorated once; call #{j + 1} of {len(scripts)}: fn(", 1
        )
        check(run, expected, rule=rule, call=call, check_rng=True)
        check_arguments(run, call)


@pytest.mark.level(2)
@pytest.mark.parametrize(("options", "script", "rule"), CASES_SCHEDULE, ids=CASE_IDS)
def test_decorated_function_follows_the_schedule(impl, options, script, rule):
    run_and_check(impl, "retrying", script, options, rule=rule)


@pytest.mark.level(2)
@pytest.mark.parametrize(("options", "script", "rng_values"), CASES_JITTER, ids=["cap-3", "readme"])
def test_decorated_function_uses_full_jitter(impl, options, script, rng_values):
    run_and_check(
        impl, "retrying", script, options, rule=RULE_JITTER, rng_values=rng_values, check_rng=True
    )


@pytest.mark.level(2)
def test_arguments_pass_through_on_every_attempt(impl):
    run_and_check(impl, "retrying", (FAIL, FAIL, OK), {"max_attempts": 3}, rule=RULE_DECORATED)

    seen = []

    def embed(text, dims, *, normalize=False):
        seen.append((text, dims, normalize))
        if len(seen) < 2:
            raise TransientError("503")
        return f"{text}:{dims}:{normalize}"

    env = Env()
    decorated = impl.retrying(sleep=env.sleep, rng=env.rng)(embed)
    result = decorated("hello", 64, normalize=True)
    call = "retrying()(embed)('hello', 64, normalize=True), embed failing once"
    expect_equal(
        seen,
        [("hello", 64, True)] * 2,
        call=call,
        rule="rule: the decorated function passes its positional and keyword arguments through on every "
        "attempt",
    )
    expect_equal(result, "hello:64:True", call=call, rule=RULE_RESULT)


@pytest.mark.level(2)
def test_decorated_function_keeps_name_and_docstring(impl):
    def complete(prompt: str, *, temperature: float = 0.0) -> str:
        """Ask the model to complete `prompt`."""
        return prompt

    env = Env()
    decorated = impl.retrying(max_attempts=2, sleep=env.sleep, rng=env.rng)(complete)
    expect_equal(
        decorated("Paris is"),
        "Paris is",
        call="retrying(max_attempts=2)(complete)('Paris is')",
        rule=RULE_DECORATED,
    )
    expect_equal(
        getattr(decorated, "__name__", None),
        "complete",
        call="retrying(max_attempts=2)(complete).__name__",
        rule=RULE_WRAPS,
    )
    expect_equal(
        getattr(decorated, "__doc__", None),
        "Ask the model to complete `prompt`.",
        call="retrying(max_attempts=2)(complete).__doc__",
        rule=RULE_WRAPS,
    )


RULE_SIGNATURE = (
    "rule: retrying's signature lists every option of retry as a keyword-only parameter with the "
    "same default (written out, not collected in **options)"
)
STATED_DEFAULTS: dict[str, Any] = {
    "max_attempts": 3,
    "base_delay": 0.1,
    "max_delay": 10.0,
    "multiplier": 2.0,
    "jitter": False,
    "retry_on": (Exception,),
    "sleep": REAL_TIME_SLEEP,
    "rng": random.random,
}
SPELLED = {
    id(REAL_TIME_SLEEP): "time.sleep",
    id(random.random): "random.random",
    id(time.monotonic): "time.monotonic",
}


def spelled(value: Any) -> str:
    """A default as the statement writes it: `time.sleep`, `(Exception,)`, `0.1`."""
    return SPELLED.get(id(value), option_text(value))


def keyword_options(fn: Any) -> dict[str, Any] | str:
    """name -> default of fn's keyword-only parameters, or why its signature cannot be read."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError) as exc:
        return f"no signature: {exc}"
    return {
        name: p.default
        for name, p in parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


@pytest.mark.level(2)
def test_retrying_lists_the_options_of_retry_with_the_same_defaults(impl):
    found = keyword_options(impl.retrying)
    reference = keyword_options(impl.retry)
    call = "inspect.signature(retrying), compared with inspect.signature(retry)"
    if isinstance(found, str):
        fail(RULE_SIGNATURE, call=call, expected="a readable signature", actual=found)
    # retry's own signature is level 1's business: where it lacks a stated option, use the statement.
    expected = (
        reference
        if isinstance(reference, dict) and all(n in reference for n in STATED_DEFAULTS)
        else STATED_DEFAULTS
    )
    for name, default in expected.items():
        if name not in found:
            fail(
                RULE_SIGNATURE,
                call=call,
                expected=f"a keyword-only parameter {name}={spelled(default)}",
                actual=f"no keyword-only parameter {name!r} (it has: {', '.join(found) or 'none'})",
                show_values=False,
            )
        if not (found[name] is default or found[name] == default):
            fail(
                RULE_SIGNATURE,
                call=f"{call}: the default of {name}",
                expected=f"{name}={spelled(default)}, as in retry",
                actual=f"{name}={spelled(found[name])}",
                show_values=False,
            )
    # the signature alone is not an implementation: the decorator must also work once
    decorated = impl.retrying(max_attempts=1, sleep=lambda seconds: None)(lambda: 7)
    expect_equal(
        decorated(),
        7,
        call="retrying(max_attempts=1, sleep=...)(lambda: 7)()",
        rule=RULE_SIGNATURE,
    )


@pytest.mark.level(2)
@pytest.mark.parametrize(
    ("options", "scripts"),
    [
        ({"max_attempts": 3}, [(FAIL, FAIL, OK), (FAIL, FAIL, OK), (FAIL, OK)]),
        ({"max_attempts": 3}, [(), (FAIL, FAIL, OK)]),
        ({"max_attempts": 4, "jitter": True}, [(FAIL, FAIL, FAIL, OK), (FAIL, FAIL, OK)]),
    ],
    ids=["three-calls", "after-a-give-up", "jittered"],
)
def test_each_call_retries_independently(impl, options, scripts):
    check_repeated_calls(impl, options, scripts, rule=RULE_INDEPENDENT, rng_values=(0.5, 0.25))


@pytest.mark.level(2)
@pytest.mark.parametrize(
    "options",
    [{"max_attempts": 0}, {"base_delay": -1.0}, {"max_delay": -0.5}, {"multiplier": 0.9}],
    ids=["attempts-0", "base-negative", "max-negative", "multiplier-below-1"],
)
def test_retrying_validates_options_at_decoration_time(impl, options):
    check_value_error(impl, "retrying", options, RULE_DECORATION)


@pytest.mark.level(2)
@given(
    options=configurations(),
    scripts=st.lists(st.lists(steps, max_size=9), min_size=1, max_size=3),
    rng_values=rng_lists,
)
def test_any_sequence_of_decorated_calls_follows_the_rules(impl, options, scripts, rng_values):
    check_repeated_calls(
        impl,
        options,
        scripts,
        rule=RULE_ALL + "; each call starts again at attempt 0",
        rng_values=rng_values,
    )


# ---------------------------------------------------------------------------------------------
# Level 3: retry_async

RULE_ASYNC = (
    "rule: each attempt awaits a fresh coro_fn(), and between attempts retry_async awaits "
    "sleep(delay), with the schedule of retry"
)
RULE_INTERLEAVE = (
    "rule: while one retry_async call waits in `await sleep(...)`, other tasks run: never block "
    "the event loop"
)
RULE_CANCELLED = (
    "rule: asyncio.CancelledError is a BaseException, so with the default retry_on it "
    "propagates at once"
)


@pytest.mark.level(3)
@pytest.mark.parametrize(("options", "script", "rule"), CASES_SCHEDULE, ids=CASE_IDS)
def test_retry_async_follows_the_capped_exponential_schedule(impl, options, script, rule):
    run_and_check(impl, "retry_async", script, options, rule=rule)


@pytest.mark.level(3)
@pytest.mark.parametrize(("options", "script", "rng_values"), CASES_JITTER, ids=["cap-3", "readme"])
def test_retry_async_uses_full_jitter(impl, options, script, rng_values):
    run_and_check(
        impl,
        "retry_async",
        script,
        options,
        rule=RULE_JITTER,
        rng_values=rng_values,
        check_rng=True,
    )


@pytest.mark.level(3)
@pytest.mark.parametrize(
    "script", [(FAIL, FAIL, OK), (FAIL, FAIL, FAIL)], ids=["succeeds", "gives-up"]
)
def test_retry_async_awaits_the_injected_sleep_and_never_time_sleep(impl, script):
    run_and_check(
        impl, "retry_async", script, {"base_delay": 1.0, "max_attempts": 3}, rule=RULE_ASYNC
    )


@pytest.mark.level(3)
def test_concurrent_calls_interleave_while_one_sleeps(impl):
    log: list[str] = []
    a = Env((FAIL, FAIL, OK), name="A", log=log)
    b = Env((FAIL, OK), name="B", log=log)

    async def main() -> Any:
        return await asyncio.gather(
            impl.retry_async(a.coro_fn, sleep=a.async_sleep, rng=a.rng),
            impl.retry_async(b.coro_fn, sleep=b.async_sleep, rng=b.rng),
        )

    run = capture(impl, a, lambda: asyncio.run(main()))
    unawaited = run.unawaited + b.close_unawaited()
    call = (
        "asyncio.gather(retry_async(coro_fn_A), retry_async(coro_fn_B))  (sleep, rng injected)\n"
        "  fn:       A: fail, fail, ok; B: fail, ok; each injected sleep awaits a real asyncio.sleep(0)"
    )
    expected = ["result of attempt 2", "result of attempt 1"]
    if run.real_sleeps:
        fail(
            RULE_NO_REAL_SLEEP,
            call=call,
            expected="only the injected sleeps",
            actual=f"{', '.join(run.real_sleeps)} called",
            show_values=False,
        )
    if unawaited:
        fail(
            RULE_AWAIT_SLEEP,
            call=call,
            expected="every sleep(...) awaited",
            actual=f"sleep(...) called {times(unawaited)} without being awaited",
            show_values=False,
        )
    if run.error is not None:
        fail(
            RULE_ASYNC,
            call=call,
            expected=f"returns {expected!r}",
            actual=error_text(run.error, a),
            show_values=False,
        )
    expect_equal(run.value, expected, call=call, rule=RULE_ASYNC)
    expect_equal(
        (a.sleeps, b.sleeps),
        ([0.1, 0.2], [0.1]),
        call=call + "\n  (A's sleeps, B's sleeps)",
        rule=RULE_ASYNC,
    )
    if "B0" not in log or "A2" not in log or log.index("B0") > log.index("A2"):
        fail(
            RULE_INTERLEAVE,
            call=call,
            expected="B's first attempt runs while A sleeps: A0, B0, A1, B1, A2",
            actual=f"attempts ran in the order {', '.join(log)}",
            show_values=False,
        )


@pytest.mark.level(3)
def test_cancellation_propagates_at_once(impl):
    run_and_check(
        impl, "retry_async", (raising(asyncio.CancelledError), OK), {}, rule=RULE_CANCELLED
    )


@pytest.mark.level(3)
def test_retry_async_has_the_stated_defaults(impl):
    run_and_check(impl, "retry_async", (), {}, rule=RULE_DEFAULTS, check_rng=True)
    check_default(impl, "retry_async", "sleep", REAL_ASYNCIO_SLEEP, "asyncio.sleep")
    check_default(impl, "retry_async", "rng", random.random, "random.random")


@pytest.mark.level(3)
@pytest.mark.parametrize(
    "options",
    [{"max_attempts": 0}, {"base_delay": -1.0}, {"multiplier": 0.5}],
    ids=["attempts-0", "base-negative", "multiplier-half"],
)
def test_retry_async_rejects_invalid_options_before_the_first_attempt(impl, options):
    check_value_error(impl, "retry_async", options, RULE_INVALID)


@pytest.mark.level(3)
@given(options=configurations(), script=st.lists(steps, max_size=9), rng_values=rng_lists)
def test_any_async_run_follows_the_rules(impl, options, script, rng_values):
    run_and_check(
        impl, "retry_async", script, options, rule=RULE_ALL, rng_values=rng_values, check_rng=True
    )


# ---------------------------------------------------------------------------------------------
# Level 4: Retry-After and a deadline

RULE_RETRY_AFTER = (
    "rule: an exception's retry_after (seconds) replaces the computed delay: "
    "sleep(min(max_delay, retry_after))"
)
RULE_RETRY_AFTER_JITTER = (
    "rule: a retry_after delay is never jittered, and rng() is not called for it"
)
RULE_NO_HINT = (
    "rule: a retry_after that is missing or None means no hint; retry_after=0 means sleep(0)"
)
RULE_HINT_LIMITS = (
    "rule: retry_after changes only how long to wait: exceptions outside retry_on still propagate "
    "at once, and there is no sleep after the final attempt"
)
RULE_DEADLINE = (
    "rule: before each sleep, if clock() + delay > start + deadline, re-raise the last exception "
    "instead of sleeping (reaching the deadline exactly is allowed)"
)
RULE_START = (
    "rule: the deadline is measured from clock() read once at the start of the call, before the first "
    "attempt; time spent inside fn counts"
)
RULE_DEADLINE_DELAY = (
    "rule: the deadline check uses the delay about to be slept: after the cap, jitter and "
    "retry_after"
)
RULE_NO_DEADLINE = "rule: deadline=None (the default) means no deadline"
RULE_DEADLINE_INVALID = (
    "rule: a negative deadline raises ValueError before fn is first called "
    "(retrying: at decoration time)"
)
RULE_PER_CALL = (
    "rule: for retrying, the deadline runs from the start of each call of the decorated function, "
    "not from decoration"
)
RULE_ALL_L4 = (
    RULE_ALL
    + "; retry_after replaces the delay (capped, unjittered); the deadline is checked before each sleep"
)

forms = pytest.mark.parametrize("form", FORMS)


@pytest.mark.level(4)
@forms
@pytest.mark.parametrize(
    ("options", "script"),
    [
        ({"max_attempts": 4}, (failing(retry_after=3.0), FAIL, failing(retry_after=0.5), OK)),
        ({"max_attempts": 3, "base_delay": 1.0}, (failing(retry_after=7), FAIL)),
        ({"max_delay": 10.0}, (failing(retry_after=30.0), OK)),
        (
            {"max_delay": 2.0, "retry_on": (KeyError, TransientError)},
            (failing(retry_after=2.5), OK),
        ),
    ],
    ids=["replaces", "int-then-schedule", "capped-30-to-10", "capped-2.5-to-2"],
)
def test_retry_after_replaces_the_computed_delay(impl, form, options, script):
    run_and_check(impl, form, script, options, rule=RULE_RETRY_AFTER)


@pytest.mark.level(4)
@forms
def test_retry_after_is_not_jittered(impl, form):
    options = {"jitter": True, "max_attempts": 4}
    script = (failing(retry_after=2.0), FAIL, failing(retry_after=1.0), OK)
    run_and_check(
        impl,
        form,
        script,
        options,
        rule=RULE_RETRY_AFTER_JITTER,
        rng_values=(0.5, 0.25),
        check_rng=True,
    )


@pytest.mark.level(4)
@forms
def test_missing_or_none_retry_after_means_no_hint(impl, form):
    script = (failing(retry_after=None), failing(retry_after=0), FAIL, OK)
    run_and_check(impl, form, script, {"max_attempts": 4, "base_delay": 1.0}, rule=RULE_NO_HINT)


@pytest.mark.level(4)
@forms
@pytest.mark.parametrize(
    ("options", "script"),
    [
        ({"retry_on": TransientError}, (raising(PermanentError, retry_after=1.0), OK)),
        ({"max_attempts": 2}, (failing(retry_after=1.0), failing(retry_after=1.0), OK)),
    ],
    ids=["not-in-retry-on", "final-attempt"],
)
def test_retry_after_does_not_change_what_is_retried(impl, form, options, script):
    run_and_check(impl, form, script, options, rule=RULE_HINT_LIMITS)


@pytest.mark.level(4)
@forms
@pytest.mark.parametrize(
    "deadline", [3.0, 2.5, 7.0, 0.0, 1.0], ids=["readme-3", "2.5", "7-exactly", "zero", "1-exactly"]
)
def test_deadline_stops_before_a_sleep_that_would_pass_it(impl, form, deadline):
    options = {"max_attempts": 10, "base_delay": 1.0, "multiplier": 2.0, "deadline": deadline}
    run_and_check(impl, form, (), options, rule=RULE_DEADLINE)


@pytest.mark.level(4)
@forms
@pytest.mark.parametrize(
    ("deadline", "script"),
    [
        (6.0, (failing(takes=5.0),)),
        (6.0, (failing(takes=4.5), failing(takes=0.5))),
        (4.0, (failing(takes=5.0), OK)),
    ],
    ids=["first-attempt-slow", "both-slow", "past-already"],
)
def test_deadline_counts_time_spent_in_fn(impl, form, deadline, script):
    options = {"max_attempts": 10, "base_delay": 1.0, "deadline": deadline}
    run_and_check(impl, form, script, options, rule=RULE_START)


@pytest.mark.level(4)
@forms
@pytest.mark.parametrize(
    ("options", "script", "rng_values"),
    [
        ({"base_delay": 8.0, "jitter": True, "deadline": 1.5, "max_attempts": 5}, (), (0.125,)),
        ({"base_delay": 8.0, "max_delay": 1.0, "deadline": 1.5, "max_attempts": 5}, (), (0.5,)),
        ({"base_delay": 0.125, "deadline": 4.0}, (failing(retry_after=5.0), OK), (0.5,)),
        ({"base_delay": 8.0, "deadline": 1.0}, (failing(retry_after=0.5), FAIL, OK), (0.5,)),
    ],
    ids=["jittered", "capped", "long-retry-after", "short-retry-after"],
)
def test_deadline_uses_the_delay_about_to_be_slept(impl, form, options, script, rng_values):
    run_and_check(impl, form, script, options, rule=RULE_DEADLINE_DELAY, rng_values=rng_values)


@pytest.mark.level(4)
@forms
def test_no_deadline_by_default(impl, form):
    script = (failing(takes=1e6),) * 4 + (OK,)
    run_and_check(impl, form, script, {"max_attempts": 5, "deadline": None}, rule=RULE_NO_DEADLINE)
    run_and_check(impl, form, script, {"max_attempts": 5}, rule=RULE_NO_DEADLINE)
    check_default(impl, form, "clock", time.monotonic, "time.monotonic")


@pytest.mark.level(4)
@forms
def test_negative_deadline_raises_value_error(impl, form):
    check_value_error(impl, form, {"deadline": -1.0}, RULE_DEADLINE_INVALID)


@pytest.mark.level(4)
def test_retrying_measures_the_deadline_from_each_call(impl):
    run_and_check(
        impl,
        "retrying",
        (),
        {"max_attempts": 10, "base_delay": 1.0, "deadline": 3.0},
        rule=RULE_PER_CALL,
    )
    check_repeated_calls(
        impl,
        {"max_attempts": 10, "base_delay": 1.0, "deadline": 3.0},
        [(), (), (FAIL, OK)],
        rule=RULE_PER_CALL,
        pause=100.0,
    )


eighths = st.integers(0, 40).map(lambda k: k / 8)


@st.composite
def grid_configurations(draw: st.DrawFn) -> dict[str, Any]:
    """Options whose every delay and sum is exact in floating point (multiples of 1/8 s, small)."""
    choices = {
        "max_attempts": st.integers(1, 7),
        "base_delay": st.sampled_from([0.0, 0.125, 0.25, 0.5, 1.0, 2.0]),
        "max_delay": st.sampled_from([0.0, 0.5, 1.0, 4.0, 8.0, 100.0]),
        "multiplier": st.sampled_from([1.0, 1.5, 2.0, 3.0]),
        "jitter": st.booleans(),
        "retry_on": retry_ons,
    }
    options = {
        key: draw(strategy, label=key) for key, strategy in choices.items() if draw(st.booleans())
    }
    options["deadline"] = draw(st.none() | eighths, label="deadline")
    return options


grid_steps = st.one_of(
    steps,
    st.builds(
        failing,
        retry_after=st.sampled_from([NO_HINT, None, 0, 0.5, 3.0, 50.0]),
        takes=st.sampled_from([0.0, 0.25, 1.0, 2.5]),
    ),
)


@pytest.mark.level(4)
@forms
@given(
    options=grid_configurations(),
    script=st.lists(grid_steps, max_size=8),
    rng_values=st.lists(st.integers(0, 7).map(lambda k: k / 8), min_size=1, max_size=4),
)
def test_any_run_with_hints_and_a_deadline_follows_the_rules(
    impl, form, options, script, rng_values
):
    run_and_check(impl, form, script, options, rule=RULE_ALL_L4, rng_values=rng_values)

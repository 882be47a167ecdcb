"""Hidden suite for agent_loop.

The model is a script: a list of assistant replies, handed out one per call (a deep copy each time,
so nothing the attempt does to a reply can change the script); past the script it answers once with
a final "(end of script)" reply, and a call after that is an overrun, reported as the loop not
stopping. It records a deep copy of every transcript it is given. The tools are the suite's own
functions; each records how it was called (and, in the async form, when it started and when it
finished or was cancelled).

The oracle is `expected_run`: the statement's rules transcribed as a plain loop over the script,
with a classification of each call written apart from any solution (JSON types by a table of Python
types, violations collected in a list and the first one taken). It gives the whole transcript, the
rule behind every message, the calls that reach a tool, and for the async form the loop time at
which each reply arrives and each call starts and ends. A run of the attempt is compared with it as
a whole; the first differing message names the rule behind it.

The async form runs on `VirtualClockLoop`: an event loop whose clock moves only when every task
waits, jumping straight to the next timer, so `asyncio.sleep(30)` costs nothing in real time and
every start, finish and timeout has an exact loop time. A sequential implementation shows up as
calls of one reply starting at different times, deterministically.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kata_runner.testing import fail, raised_at, show

PROMPT = "Plan my trip."
END_OF_SCRIPT = {"role": "assistant", "content": "(end of script)"}
STEP_LIMIT = "stopped: step limit reached"
TIMED_OUT = "error: timed out"
MALFORMED = "error: malformed tool call"

# ---------------------------------------------------------------------------------------------
# Rules, as the statement words them

RULE_START = (
    "rule: the transcript starts with {'role': 'user', 'content': prompt}, and run_agent returns "
    "the whole transcript"
)
RULE_MODEL = (
    "rule: each step calls model(messages) once, with the transcript so far, and appends its "
    "reply unchanged"
)
RULE_FINAL = (
    "rule: a reply whose tool_calls is missing or empty is the final answer: the run returns the "
    "transcript, which ends with that reply"
)
RULE_RESULT = (
    "rule: each call appends {'role': 'tool', 'id': <the call's id>, 'content': "
    "json.dumps(result)}, where result = fn(**arguments)"
)
RULE_ORDER = (
    "rule: a reply's calls run in order, one tool message per call, in the order of the calls"
)
RULE_FED_BACK = (
    "rule: every error becomes the content of that call's tool message; the tool is not called, "
    "and the run goes on (nothing is raised)"
)
RULE_MALFORMED = (
    "rule: json that does not parse, or is not an object with a string name and an object "
    "arguments, gives: error: malformed tool call"
)
RULE_UNKNOWN = "rule: a name that is not in tools gives: error: unknown tool 'NAME'"
RULE_MISSING = "rule: a required argument that is absent gives: error: missing argument 'ARG'"
RULE_UNEXPECTED = (
    "rule: an argument that is not in properties gives: error: unexpected argument 'ARG'"
)
RULE_TYPE = (
    "rule: types are JSON types (a bool is never an integer or a number; 1.0 is a number, not an "
    "integer); the wrong type gives: error: argument 'ARG' must be TYPE"
)
RULE_ENUM = (
    "rule: an enum check is `value in enum`, after the type check; a miss gives: "
    "error: argument 'ARG' must be one of json.dumps(enum)"
)
RULE_RAISED = "rule: a tool that raised exc gives: error: {type(exc).__name__}: {exc}"
RULE_FIRST = (
    "rule: report only the first violation: the required arguments first, in the order of "
    "required; then the call's arguments in their JSON order, each checked for being in "
    "properties, then its type, then its enum"
)
RULE_SCHEMA = "rule: properties and required may be absent: no properties, nothing required"
RULE_STEP_LIMIT = (
    "rule: max_steps is the most times the model is called; when its max_steps-th reply still "
    "asks for tools, those calls run and their results are appended, then "
    "{'role': 'assistant', 'content': 'stopped: step limit reached'}"
)
RULE_MAX_STEPS = "rule: max_steps < 1 raises ValueError before the model is called"
RULE_REPEAT = (
    "rule: a call whose name and arguments equal those of a call made at an earlier step stops "
    "the run: none of that reply's calls run, then {'role': 'assistant', 'content': "
    "'stopped: repeated call to NAME'}"
)
RULE_REPEAT_FIRST = (
    "rule: a repeated call stops the run with 'stopped: repeated call to NAME', NAME being the "
    "first repeating call in the reply's order"
)
RULE_REPEAT_BEFORE = (
    "rule: the repeat check comes before running: if one call of a reply repeats, none of that "
    "reply's calls run (a repeat in the max_steps-th reply gives the repeat message, not the step "
    "limit's)"
)
RULE_MADE = (
    "rule: every parsed call counts as made, whatever came of it (a result, an unknown tool, "
    "invalid arguments or an exception); malformed calls never count"
)
RULE_SAME_REPLY = (
    "rule: calls of the same reply do not repeat each other: two equal calls in one reply both run"
)
RULE_JSON_EQUAL = (
    "rule: arguments are equal as JSON values (json.dumps(arguments, sort_keys=True)): key order "
    "and spacing do not matter; 1, 1.0 and true are three different values"
)
RULE_CONCURRENT = (
    "rule: the calls of one reply run concurrently: start them all, then wait for all of them"
)
RULE_ASYNC_ORDER = "rule: results keep the order of the calls, not the order in which they finish"
RULE_WAIT_ALL = (
    "rule: the model is called again only once every call of the reply has finished (or timed out)"
)
RULE_TIMEOUT = (
    "rule: a call still running timeout seconds after it started is cancelled, and its content is "
    "error: timed out"
)
RULE_NO_LIMIT = "rule: a tool's timeout of None, or no timeout key at all, means no limit"
RULE_ISOLATED = "rule: a call's exception or timeout never affects another call"
RULE_OWN_TIMEOUT = (
    "rule: a tool that itself raises TimeoutError is an ordinary exception: "
    "error: TimeoutError: ..., not error: timed out"
)
RULE_LOOP_CLOCK = (
    "rule: time is the event loop's clock: wait with asyncio (gather, wait_for, timeout), never "
    "time.sleep or threads"
)

# ---------------------------------------------------------------------------------------------
# The tools: plain functions and their schemas


def _add(a: int, b: int) -> int:
    return a + b


def _echo(text: str) -> str:
    return text


def _weather(city: str, units: str = "c", days: int = 1) -> dict[str, Any]:
    base = 11 if units == "c" else 52
    return {"city": city, "units": units, "temps": [base + len(city) + d for d in range(days)]}


def _search(q: str, limit: int = 2) -> list[str]:
    return [f"{q} result {i + 1}" for i in range(limit)]


def _divide(a: float, b: float) -> float:
    return a / b


def _lookup(key: str) -> float:
    return {"pi": 3.14159, "e": 2.71828}[key]


def _now() -> str:
    return "2024-06-01T12:00:00Z"


def _kinds(**arguments: Any) -> list[str]:
    return sorted(arguments)


def _noop(**arguments: Any) -> None:
    return None


def _wait(seconds: float, label: str) -> str:
    return label


def _fail_after(seconds: float, label: str) -> str:
    raise RuntimeError(label)


def _upstream(seconds: float) -> str:
    raise TimeoutError("upstream timed out")


def obj(properties: dict[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


STRING, INTEGER, NUMBER = {"type": "string"}, {"type": "integer"}, {"type": "number"}


@dataclass(frozen=True)
class ToolDef:
    fn: Callable[..., Any]
    parameters: dict[str, Any] | None  # None: no "parameters" key... never; see registry()
    timeout: Any = "absent"  # "absent": no timeout key; else the value of "timeout"
    waits: bool = False  # async form: sleeps `seconds` before answering


TOOLS: dict[str, ToolDef] = {
    "add": ToolDef(_add, obj({"a": INTEGER, "b": INTEGER}, ["a", "b"])),
    "echo": ToolDef(_echo, obj({"text": STRING}, ["text"])),
    "weather": ToolDef(
        _weather,
        obj(
            {"city": STRING, "units": {"type": "string", "enum": ["c", "f"]}, "days": INTEGER},
            ["city"],
        ),
    ),
    "search": ToolDef(
        _search, obj({"q": STRING, "limit": {"type": "integer", "enum": [1, 2, 3]}}, ["q"])
    ),
    "divide": ToolDef(_divide, obj({"a": NUMBER, "b": NUMBER}, ["a", "b"])),
    "lookup": ToolDef(_lookup, obj({"key": STRING}, ["key"])),
    "now": ToolDef(_now, {"type": "object"}),  # no properties, no required
    "kinds": ToolDef(
        _kinds,
        {
            "type": "object",
            "properties": {
                "s": STRING,
                "i": INTEGER,
                "n": NUMBER,
                "b": {"type": "boolean"},
                "a": {"type": "array"},
                "o": {"type": "object"},
                "z": {"type": "null"},
            },
        },
    ),
    "noop": ToolDef(_noop, {"type": "object", "properties": {"x": NUMBER}, "required": []}),
}
WAIT_TOOLS: dict[str, ToolDef] = {
    "wait": ToolDef(
        _wait, obj({"seconds": NUMBER, "label": STRING}, ["seconds", "label"]), None, True
    ),
    "wait_t": ToolDef(
        _wait, obj({"seconds": NUMBER, "label": STRING}, ["seconds", "label"]), 4.5, True
    ),
    "fail_after": ToolDef(
        _fail_after, obj({"seconds": NUMBER, "label": STRING}, ["seconds", "label"]), waits=True
    ),
    "upstream": ToolDef(_upstream, obj({"seconds": NUMBER}, ["seconds"]), 10.0, True),
}
ASYNC_TOOLS = {**TOOLS, **WAIT_TOOLS}


def timeout_of(tool: ToolDef) -> float | None:
    return None if tool.timeout == "absent" else tool.timeout


# ---------------------------------------------------------------------------------------------
# Scripts: what the model says


def call(call_id: str, name: Any, arguments: Any = None, **extra: Any) -> dict[str, str]:
    """A tool call whose JSON is an object {"name": name, "arguments": arguments, **extra}."""
    body: dict[str, Any] = {"name": name, "arguments": {} if arguments is None else arguments}
    body.update(extra)
    return {"id": call_id, "json": json.dumps(body)}


def raw(call_id: str, text: str) -> dict[str, str]:
    """A tool call with exactly this JSON text."""
    return {"id": call_id, "json": text}


def asks(*calls: dict[str, str], content: str = "") -> dict[str, Any]:
    return {"role": "assistant", "content": content, "tool_calls": list(calls)}


def answer(content: str = "Done.", **extra: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content, **extra}


class Overrun(BaseException):
    """The attempt called the model again after the script's final reply."""


class Deadlock(Exception):
    """Nothing on the virtual loop can ever run again."""


# ---------------------------------------------------------------------------------------------
# The oracle: the statement's rules, transcribed


def json_types(value: Any) -> set[str]:
    """The JSON types a Python value from json.loads has."""
    if value is None:
        return {"null"}
    return {
        bool: {"boolean"},
        int: {"integer", "number"},
        float: {"number"},
        str: {"string"},
        list: {"array"},
        dict: {"object"},
    }.get(type(value), set())


@dataclass(frozen=True)
class Outcome:
    """What comes of one call: its tool message content and the rule behind it."""

    content: str
    rule: str
    kind: str  # ok, malformed, unknown, missing, unexpected, type, enum, raised, timed_out, own_timeout
    key: tuple[str, str] | None = None  # (name, canonical arguments), None when malformed
    runs: bool = False  # reaches the tool
    name: str | None = None
    arguments: dict[str, Any] | None = None
    seconds: float = 0.0  # async form: how long the tool takes
    timeout: float | None = None
    others: tuple[str, ...] = ()  # the violations after the first, never reported


def violations(arguments: dict[str, Any], schema: dict[str, Any]) -> list[tuple[str, str]]:
    """Every violation of the schema subset, in the statement's order: the first one is reported."""
    problems: list[tuple[str, str]] = [
        ("missing", f"error: missing argument '{r}'")
        for r in schema.get("required", [])
        if r not in arguments
    ]
    properties = schema.get("properties", {})
    for key, value in arguments.items():
        if key not in properties:
            problems.append(("unexpected", f"error: unexpected argument '{key}'"))
            continue
        wanted = properties[key]["type"]
        if wanted not in json_types(value):
            problems.append(("type", f"error: argument '{key}' must be {wanted}"))
        elif "enum" in properties[key] and value not in properties[key]["enum"]:
            problems.append(
                (
                    "enum",
                    f"error: argument '{key}' must be one of {json.dumps(properties[key]['enum'])}",
                )
            )
    return problems


KIND_RULES = {
    "ok": RULE_RESULT,
    "malformed": RULE_MALFORMED,
    "unknown": RULE_UNKNOWN,
    "missing": RULE_MISSING,
    "unexpected": RULE_UNEXPECTED,
    "type": RULE_TYPE,
    "enum": RULE_ENUM,
    "raised": RULE_RAISED,
    "timed_out": RULE_TIMEOUT,
    "own_timeout": RULE_OWN_TIMEOUT,
}


def classify(text: str, registry: dict[str, ToolDef]) -> Outcome:
    try:
        parsed = json.loads(text)
    except ValueError:
        return Outcome(MALFORMED, RULE_MALFORMED, "malformed")
    if (
        type(parsed) is not dict
        or type(parsed.get("name")) is not str
        or type(parsed.get("arguments")) is not dict
    ):
        return Outcome(MALFORMED, RULE_MALFORMED, "malformed")
    name, arguments = parsed["name"], parsed["arguments"]
    key = (name, json.dumps(arguments, sort_keys=True))
    made = {"key": key, "name": name, "arguments": arguments}
    if name not in registry:
        return Outcome(f"error: unknown tool '{name}'", RULE_UNKNOWN, "unknown", **made)
    tool = registry[name]
    problems = violations(arguments, tool.parameters or {})
    if problems:
        kind, content = problems[0]
        others = tuple(text for _, text in problems[1:])
        return Outcome(content, KIND_RULES[kind], kind, others=others, **made)
    seconds = float(arguments.get("seconds", 0)) if tool.waits else 0.0
    limit = timeout_of(tool)
    if limit is not None and seconds > limit:
        return Outcome(
            TIMED_OUT, RULE_TIMEOUT, "timed_out", runs=True, seconds=seconds, timeout=limit, **made
        )
    try:
        content = json.dumps(tool.fn(**arguments))
        kind = "ok"
    except TimeoutError as exc:
        content, kind = f"error: {type(exc).__name__}: {exc}", "own_timeout"
    except Exception as exc:  # noqa: BLE001 - what the tool raised is the content
        content, kind = f"error: {type(exc).__name__}: {exc}", "raised"
    return Outcome(
        content, KIND_RULES[kind], kind, runs=True, seconds=seconds, timeout=limit, **made
    )


@dataclass
class Expected:
    messages: list[dict[str, Any]] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)  # the rule behind each message
    outcomes: dict[int, Outcome] = field(default_factory=dict)  # by message index, tool messages
    step_of: dict[int, int] = field(default_factory=dict)  # message index -> step (0-based)
    model_inputs: list[int] = field(default_factory=list)  # transcript length at each model call
    model_times: list[float] = field(default_factory=list)  # async: loop time of each model call
    invocations: list[tuple[int, Outcome]] = field(default_factory=list)  # (step, outcome) that run
    end_rule: str = RULE_FINAL
    ends_with: str = "the final answer"


def script_reply(script: Sequence[dict[str, Any]], k: int) -> dict[str, Any]:
    return script[k] if k < len(script) else END_OF_SCRIPT


def expected_run(
    script: Sequence[dict[str, Any]], max_steps: int = 10, registry: dict[str, ToolDef] = TOOLS
) -> Expected:
    e = Expected()
    now = 0.0
    e.messages.append({"role": "user", "content": PROMPT})
    e.rules.append(RULE_START)
    made: set[tuple[str, str]] = set()
    for step in range(max_steps):
        e.model_inputs.append(len(e.messages))
        e.model_times.append(now)
        reply = script_reply(script, step)
        e.step_of[len(e.messages)] = step
        e.messages.append(reply)
        e.rules.append(RULE_MODEL)
        calls = reply.get("tool_calls") or []
        if not calls:
            e.end_rule, e.ends_with = RULE_FINAL, "the final answer"
            return e
        outcomes = [classify(c["json"], registry) for c in calls]
        repeating = [o for o in outcomes if o.key is not None and o.key in made]
        if repeating:
            e.step_of[len(e.messages)] = step
            e.messages.append(
                {"role": "assistant", "content": f"stopped: repeated call to {repeating[0].name}"}
            )
            e.rules.append(RULE_REPEAT)
            e.end_rule, e.ends_with = RULE_REPEAT, "the repeated-call stop"
            return e
        made.update(o.key for o in outcomes if o.key is not None)
        turn = 0.0
        for c, o in zip(calls, outcomes):
            e.outcomes[len(e.messages)] = o
            e.step_of[len(e.messages)] = step
            e.messages.append({"role": "tool", "id": c["id"], "content": o.content})
            e.rules.append(o.rule)
            if o.runs:
                e.invocations.append((step, o))
                turn = max(turn, o.seconds if o.timeout is None else min(o.seconds, o.timeout))
        now += turn
    e.messages.append({"role": "assistant", "content": STEP_LIMIT})
    e.rules.append(RULE_STEP_LIMIT)
    e.end_rule, e.ends_with = RULE_STEP_LIMIT, "the step-limit stop"
    return e


# ---------------------------------------------------------------------------------------------
# The fake world of one run: the scripted model, recording tools, a virtual clock


class _VirtualSelector:
    """Wraps the loop's selector: never blocks while a timer is due; jumps the clock to it instead."""

    def __init__(self, real: Any, loop: VirtualClockLoop) -> None:
        self.real, self.loop = real, loop

    def select(self, timeout: float | None = None) -> Any:
        events = self.real.select(0)
        if events or timeout == 0:
            return events
        if timeout is None:  # no timer at all: only another thread could wake the loop
            events = self.real.select(2.0)
            if not events:
                raise Deadlock("every task waits and no timer is set: nothing can ever run again")
            return events
        scheduled = self.loop._scheduled
        due = scheduled[0].when() if scheduled else self.loop.now + timeout
        self.loop.now = max(self.loop.now + timeout, due)
        return []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose time() moves only when every task waits, straight to the next timer."""

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__()
        self._selector = _VirtualSelector(self._selector, self)  # type: ignore[has-type]

    def time(self) -> float:
        return self.now


@dataclass
class Invocation:
    name: str
    arguments: dict[str, Any]
    step: int  # model calls made before it started, minus 1
    start: float = 0.0
    end: float | None = None
    cancelled_at: float | None = None


class Env:
    """The scripted model and the recording tools of one run."""

    def __init__(self, script: Sequence[dict[str, Any]], registry: dict[str, ToolDef] = TOOLS):
        self.script = [copy.deepcopy(r) for r in script]
        self.defs = registry
        self.seen: list[list[Any]] = []  # a deep copy of what the model got, per call
        self.model_times: list[float] = []
        self.invocations: list[Invocation] = []
        self.raised: list[BaseException] = []  # what the tools raised
        self.loop: VirtualClockLoop | None = None

    def _next_reply(self, messages: Any) -> dict[str, Any]:
        try:
            self.seen.append(copy.deepcopy(messages))
        except Exception:  # noqa: BLE001 - the attempt passed something deepcopy refuses
            self.seen.append([f"<not copyable: {type(messages).__name__}>"])
        k = len(self.seen) - 1
        if k > len(self.script):
            raise Overrun(k + 1)
        return copy.deepcopy(script_reply(self.script, k))

    def model(self, messages: Any) -> dict[str, Any]:
        return self._next_reply(messages)

    async def amodel(self, messages: Any) -> dict[str, Any]:
        assert self.loop is not None
        self.model_times.append(self.loop.time())
        reply = self._next_reply(messages)
        await asyncio.sleep(0)
        return reply

    def time(self) -> float:
        return self.loop.time() if self.loop is not None else 0.0

    def tool(self, name: str, tool: ToolDef, asynchronous: bool) -> Callable[..., Any]:
        def record(arguments: dict[str, Any]) -> Invocation:
            inv = Invocation(name, copy.deepcopy(arguments), len(self.seen) - 1, self.time())
            self.invocations.append(inv)
            return inv

        if not asynchronous:

            def fn(**arguments: Any) -> Any:
                record(arguments)
                try:
                    return tool.fn(**arguments)
                except Exception as exc:
                    self.raised.append(exc)
                    raise

            return fn

        async def afn(**arguments: Any) -> Any:
            inv = record(arguments)
            try:
                seconds = arguments.get("seconds", 0) if tool.waits else 0
                await asyncio.sleep(seconds)
            except asyncio.CancelledError:
                inv.cancelled_at = self.time()
                raise
            inv.end = self.time()
            try:
                return tool.fn(**arguments)
            except Exception as exc:
                self.raised.append(exc)
                raise

        return afn

    def registry(self, asynchronous: bool = False) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for name, tool in self.defs.items():
            entry: dict[str, Any] = {"fn": self.tool(name, tool, asynchronous)}
            if tool.parameters is not None:
                entry["parameters"] = copy.deepcopy(tool.parameters)
            if tool.timeout != "absent":
                entry["timeout"] = tool.timeout
            out[name] = entry
        return out


@dataclass
class Run:
    env: Env
    form: str
    max_steps: int | None
    transcript: Any = None
    error: BaseException | None = None
    overrun: bool = False
    deadlock: str | None = None
    returned_at: float | None = None


def execute(
    impl: Any,
    form: str,
    script: Sequence[dict[str, Any]],
    max_steps: int | None = None,
    registry: dict[str, ToolDef] | None = None,
) -> Run:
    """Run the attempt on the script; the attempt's exceptions are kept, never raised."""
    env = Env(script, registry or (ASYNC_TOOLS if form == "async" else TOOLS))
    run = Run(env, form, max_steps)
    options = {} if max_steps is None else {"max_steps": max_steps}
    try:
        if form == "sync":
            run.transcript = impl.run_agent(env.model, env.registry(), PROMPT, **options)
        else:
            run_on_virtual_clock(impl, env, run, options)
    except NotImplementedError:
        raise
    except Overrun:
        run.overrun = True
    except Deadlock as exc:
        run.deadlock = str(exc)
    except Exception as exc:  # noqa: BLE001 - judged by check(), never raised here
        run.error = exc
    return run


def run_on_virtual_clock(impl: Any, env: Env, run: Run, options: dict[str, Any]) -> None:
    loop = VirtualClockLoop()
    env.loop = loop
    try:
        coroutine = impl.run_agent_async(env.amodel, env.registry(True), PROMPT, **options)
        run.transcript = loop.run_until_complete(coroutine)
        run.returned_at = loop.time()
    finally:
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        except Exception:  # noqa: BLE001, S110 - teardown of a run already judged
            pass
        loop.close()


# ---------------------------------------------------------------------------------------------
# Describing and comparing runs


def message_text(message: Any) -> str:
    if not isinstance(message, dict):
        return show(message)
    role = message.get("role")
    if role == "tool" and set(message) == {"role", "id", "content"}:
        return f"tool {message['id']}: {message['content']!r}"
    if role == "user" and set(message) == {"role", "content"}:
        return f"user: {message['content']!r}"
    if role == "assistant" and set(message) <= {"role", "content", "tool_calls"}:
        calls = message.get("tool_calls")
        text = f"assistant: {message.get('content')!r}"
        if calls:
            shown = ", ".join(
                f"{c.get('id')} {c.get('json')}" if isinstance(c, dict) else repr(c) for c in calls
            )
            text += f" tool_calls: {shown}"
        elif "tool_calls" in message:
            text += " tool_calls: []"
        return text
    return repr(message)


def transcript_text(messages: Sequence[Any], limit: int = 30) -> str:
    lines = [f"  {i:>3}  {message_text(m)}" for i, m in enumerate(messages)]
    if len(lines) > limit:
        lines = [*lines[:5], f"  ... {len(lines) - limit + 5} more ...", *lines[-(limit - 5) :]]
    return "\n".join(lines)


def describe(form: str, script: Sequence[dict[str, Any]], max_steps: int | None) -> str:
    fn = "run_agent" if form == "sync" else "await run_agent_async"
    options = "" if max_steps is None else f", max_steps={max_steps}"
    lines = [f"{fn}(model, tools, {PROMPT!r}{options})"]
    for k, reply in enumerate(script):
        lines.append(f"  reply {k + 1}: {message_text(reply)}")
    if not script or script[-1].get("tool_calls"):
        lines.append(f"  reply {len(script) + 1}: {message_text(END_OF_SCRIPT)} (past the script)")
    return "\n".join(lines)


def canonical(value: Any) -> str:
    """A comparison key that keeps JSON types apart (True, 1 and 1.0 differ)."""
    return json.dumps(value, sort_keys=True, default=repr)


def same(a: Any, b: Any) -> bool:
    try:
        return canonical(a) == canonical(b)
    except (TypeError, ValueError):
        return False


def is_stop(message: Any, text: str | None = None) -> bool:
    return (
        isinstance(message, dict)
        and message.get("role") == "assistant"
        and isinstance(message.get("content"), str)
        and message["content"].startswith("stopped:")
        and (text is None or message["content"].startswith(text))
    )


def repeat_rule(script: Sequence[dict[str, Any]], step: int, registry: dict[str, ToolDef]) -> str:
    """Why the attempt stopped at `step` for a repeat where the oracle saw none."""
    calls = script_reply(script, step).get("tool_calls") or []
    outcomes = [classify(c["json"], registry) for c in calls]
    keys = [o.key for o in outcomes if o.key is not None]
    if len(keys) != len(set(keys)):
        return RULE_SAME_REPLY
    earlier_texts = {
        c["json"] for k in range(step) for c in (script_reply(script, k).get("tool_calls") or [])
    }
    if any(c["json"] in earlier_texts and o.key is None for c, o in zip(calls, outcomes)):
        return RULE_MADE
    return RULE_JSON_EQUAL


def missed_repeat_rule(
    script: Sequence[dict[str, Any]], step: int, registry: dict[str, ToolDef]
) -> str:
    """Why the oracle stops at `step` for a repeat the attempt did not see."""
    earlier: dict[tuple[str, str], tuple[Outcome, str]] = {}
    for k in range(step):
        for c in script_reply(script, k).get("tool_calls") or []:
            o = classify(c["json"], registry)
            if o.key is not None:
                earlier.setdefault(o.key, (o, c["json"]))
    for c in script_reply(script, step).get("tool_calls") or []:
        o = classify(c["json"], registry)
        if o.key in earlier:
            first, text = earlier[o.key]  # type: ignore[index]
            if first.kind != "ok" and text != c["json"]:
                return f"{RULE_MADE}\n  (and: {RULE_JSON_EQUAL.removeprefix('rule: ')})"
            if first.kind != "ok":
                return RULE_MADE
            if text != c["json"]:
                return RULE_JSON_EQUAL
            return RULE_REPEAT
    return RULE_REPEAT


VALIDATION = ("missing", "unexpected", "type", "enum")


def category(content: Any) -> str | None:
    """The kind of error a tool message's content claims, or None for a result."""
    if not isinstance(content, str) or not content.startswith("error: "):
        return None
    if content == MALFORMED:
        return "malformed"
    if content == TIMED_OUT:
        return "timed_out"
    for prefix, kind in [
        ("error: unknown tool", "unknown"),
        ("error: missing argument", "missing"),
        ("error: unexpected argument", "unexpected"),
    ]:
        if content.startswith(prefix):
            return kind
    if content.startswith("error: argument '"):
        return "enum" if " must be one of " in content else "type"
    return "raised"


def explain(run: Run, e: Expected, script: Sequence[dict[str, Any]]) -> tuple[str, str]:
    """The rule broken at the first difference between the transcripts, and where."""
    actual = run.transcript
    registry = run.env.defs
    n = min(len(actual), len(e.messages))
    for i in range(n):
        want, got = e.messages[i], actual[i]
        if same(want, got):
            continue
        where = f"first difference at message {i}: expected {message_text(want)}, got {message_text(got)}"
        step = e.step_of.get(i, 0)
        if is_stop(got, "stopped: repeated call") and not is_stop(want, "stopped: repeated call"):
            return repeat_rule(script, step, registry), where
        if is_stop(want, "stopped: repeated call"):
            if is_stop(got, "stopped: repeated call"):
                return RULE_REPEAT_FIRST, where
            j = i
            while (
                j < len(actual) and isinstance(actual[j], dict) and actual[j].get("role") == "tool"
            ):
                j += 1
            if is_stop(got) or (j < len(actual) and is_stop(actual[j])):
                return RULE_REPEAT_BEFORE, where  # it ran calls first, or the limit won
            return missed_repeat_rule(script, step, registry), where
        if is_stop(got, STEP_LIMIT) or is_stop(want, STEP_LIMIT):
            return RULE_STEP_LIMIT, where
        if i in e.outcomes:
            o = e.outcomes[i]
            if isinstance(got, dict) and got.get("role") == "tool":
                turn = [j for j in e.outcomes if e.step_of[j] == step]
                wanted = sorted(canonical(e.messages[j]) for j in turn)
                got_turn = sorted(canonical(m) for m in actual[turn[0] : turn[-1] + 1])
                if wanted == got_turn and len(actual) > turn[-1]:
                    return (RULE_ORDER if run.form == "sync" else RULE_ASYNC_ORDER), where
                content = got.get("content")
                claimed = category(content)
                if content in o.others:
                    return RULE_FIRST, where
                if content == TIMED_OUT and o.kind != "timed_out":
                    if any(e.outcomes[j].kind == "timed_out" for j in turn):
                        return RULE_ISOLATED, where
                    if o.kind == "own_timeout":
                        return RULE_OWN_TIMEOUT, where
                    return (RULE_NO_LIMIT if o.timeout is None else RULE_TIMEOUT), where
                if o.kind == "timed_out":
                    return RULE_TIMEOUT, where
                if claimed in ("missing", "unexpected") and o.name in SCHEMALESS:
                    return RULE_SCHEMA, where
                if claimed in VALIDATION and claimed != o.kind:
                    return KIND_RULES[claimed], where  # a violation that is not there
            return o.rule, where
        return e.rules[i], where
    if len(actual) > len(e.messages):
        where = (
            f"the transcript goes on after message {len(e.messages) - 1} ({e.ends_with}): "
            f"message {len(e.messages)} is {message_text(actual[len(e.messages)])}"
        )
        return e.end_rule, where
    i = len(actual)
    where = f"the transcript stops after {i} messages; message {i} should be {message_text(e.messages[i])}"
    if i == len(e.messages) - 1 and e.end_rule == RULE_FINAL:
        return RULE_FINAL, where
    return e.rules[i], where


SCHEMALESS = ("now", "kinds")  # tools whose schema lacks properties or required


def blame_exception(run: Run, e: Expected) -> str:
    """The rule an exception out of the run most likely broke: what the step it escaped had to do."""
    if any(run.error is exc for exc in run.env.raised):
        return f"{RULE_RAISED}\n  ({RULE_FED_BACK.removeprefix('rule: ')})"
    step = len(run.env.seen) - 1
    outcomes = [e.outcomes[j] for j in sorted(e.outcomes) if e.step_of[j] == step]
    errors = [o for o in outcomes if o.kind != "ok"]
    if errors:
        return f"{errors[0].rule}\n  ({RULE_FED_BACK.removeprefix('rule: ')})"
    if any(o.name in SCHEMALESS for o in outcomes):
        return RULE_SCHEMA
    return RULE_RESULT if outcomes else RULE_MODEL


def check(
    run: Run, e: Expected, script: Sequence[dict[str, Any]], *, rule: str | None = None
) -> None:
    """The run must match the oracle: transcript, model inputs, tool calls (and times)."""
    __tracebackhide__ = True
    call = describe(run.form, script, run.max_steps)
    expected_text = "transcript:\n" + transcript_text(e.messages)
    if run.overrun:
        seen = run.env.seen[-1] if run.env.seen else []
        fail(
            e.end_rule,
            call=call,
            expected=f"the run ends with {e.ends_with} after {len(e.model_inputs)} model calls",
            actual=f"the model was called {len(run.env.seen)} times",
            detail=f"what the model got on the extra call:\n{transcript_text(seen)}\n{expected_text}",
            show_values=False,
        )
    if run.deadlock is not None:
        fail(
            RULE_LOOP_CLOCK,
            call=call,
            expected=f"the run returns the transcript ({len(e.messages)} messages)",
            actual=f"deadlock: {run.deadlock}",
            show_values=False,
        )
    if run.error is not None:
        blamed = blame_exception(run, e)
        if rule is not None and not any(exc is run.error for exc in run.env.raised):
            blamed = rule
        exc = run.error
        try:
            fail(
                blamed,
                call=call,
                expected=f"returns the transcript ({len(e.messages)} messages)",
                actual=f"raised {type(exc).__name__}: {exc}",
                detail=(raised_at(exc) or "") + "\n" + expected_text,
                show_values=False,
            )
        except AssertionError as failure:
            raise failure from exc
    actual = run.transcript
    if not isinstance(actual, list):
        fail(
            RULE_START,
            call=call,
            expected=f"a list of {len(e.messages)} messages",
            actual=f"{type(actual).__name__}: {show(actual)}",
            show_values=False,
        )
    if len(actual) != len(e.messages) or not all(map(same, e.messages, actual)):
        broken, where = explain(run, e, script)
        fail(
            rule if rule is not None and broken == RULE_MODEL else broken,
            call=call,
            detail=f"{where}\n{expected_text}\nyour transcript:\n{transcript_text(actual)}",
        )
    for k, length in enumerate(e.model_inputs):
        got = run.env.seen[k] if k < len(run.env.seen) else None
        if got is None or not same(got, e.messages[:length]):
            fail(
                RULE_MODEL,
                call=call,
                expected=f"model call {k + 1} gets the first {length} messages",
                actual="the model was not called"
                if got is None
                else f"it got:\n{transcript_text(got)}",
                show_values=False,
                detail=expected_text,
            )
    check_invocations(run, e, call)


def check_invocations(run: Run, e: Expected, call: str) -> None:
    __tracebackhide__ = True
    want = [(o.name, canonical(o.arguments)) for _, o in e.invocations]
    got = [(inv.name, canonical(inv.arguments)) for inv in run.env.invocations]
    if (want if run.form == "sync" else sorted(want)) != (
        got if run.form == "sync" else sorted(got)
    ):
        extra = list((Counter(got) - Counter(want)).elements())
        rule = RULE_FED_BACK if extra else RULE_RESULT
        fail(
            rule,
            call=call,
            expected="the tools called as "
            + (", ".join(f"{n}({a})" for n, a in want) or "nothing"),
            actual="they were called as " + (", ".join(f"{n}({a})" for n, a in got) or "nothing"),
            show_values=False,
        )
    if run.form == "async":
        check_times(run, e, call)


def check_times(run: Run, e: Expected, call: str) -> None:
    """Async form: every call starts when its reply arrives; timeouts cancel; the model waits."""
    __tracebackhide__ = True
    env = run.env
    for inv in env.invocations:
        arrived = e.model_times[inv.step] if 0 <= inv.step < len(e.model_times) else None
        if arrived is None or inv.start != arrived:
            fail(
                RULE_CONCURRENT,
                call=call,
                expected=f"every call of reply {inv.step + 1} starts at loop time {arrived}, when the reply arrives",
                actual=f"{inv.name}({canonical(inv.arguments)}) started at loop time {inv.start}",
                show_values=False,
                detail=timeline(env),
            )
    for step, o in e.invocations:
        matches = [
            inv
            for inv in env.invocations
            if inv.step == step and inv.name == o.name and same(inv.arguments, o.arguments)
        ]
        for inv in matches:
            if o.kind == "timed_out":
                due = inv.start + (o.timeout or 0.0)
                if inv.cancelled_at != due:
                    got = (
                        f"it finished at {inv.end}"
                        if inv.end is not None
                        else f"it was cancelled at {inv.cancelled_at}"
                        if inv.cancelled_at is not None
                        else "it was never cancelled"
                    )
                    fail(
                        RULE_TIMEOUT,
                        call=call,
                        expected=f"{o.name}({canonical(o.arguments)}) cancelled at loop time {due} (started {inv.start}, timeout {o.timeout})",
                        actual=got,
                        show_values=False,
                        detail=timeline(env),
                    )
            elif inv.cancelled_at is not None:
                fail(
                    RULE_NO_LIMIT if o.timeout is None else RULE_ISOLATED,
                    call=call,
                    expected=f"{o.name}({canonical(o.arguments)}) runs to its end at loop time {inv.start + o.seconds}",
                    actual=f"it was cancelled at loop time {inv.cancelled_at}",
                    show_values=False,
                    detail=timeline(env),
                )
    for k, t in enumerate(e.model_times):
        if k < len(env.model_times) and env.model_times[k] != t:
            fail(
                RULE_WAIT_ALL,
                call=call,
                expected=f"model call {k + 1} at loop time {t}, once every call of reply {k} has finished",
                actual=f"model call {k + 1} at loop time {env.model_times[k]}",
                show_values=False,
                detail=timeline(env),
            )


def timeline(env: Env) -> str:
    lines = ["what happened, in loop time:"]
    events: list[tuple[float, int, str]] = []
    for k, t in enumerate(env.model_times):
        events.append((t, 0, f"model call {k + 1}"))
    for inv in env.invocations:
        label = f"{inv.name}({canonical(inv.arguments)})"
        events.append((inv.start, 1, f"{label} starts"))
        if inv.end is not None:
            events.append((inv.end, 2, f"{label} finishes"))
        if inv.cancelled_at is not None:
            events.append((inv.cancelled_at, 2, f"{label} is cancelled"))
    for t, _, text in sorted(events, key=lambda x: (x[0], x[1]))[:40]:
        lines.append(f"  {t:>7g}  {text}")
    return "\n".join(lines)


def run_and_check(
    impl: Any,
    script: Sequence[dict[str, Any]],
    *,
    max_steps: int | None = None,
    form: str = "sync",
    rule: str | None = None,
) -> Run:
    __tracebackhide__ = True
    run = execute(impl, form, script, max_steps)
    registry = ASYNC_TOOLS if form == "async" else TOOLS
    e = expected_run(script, 10 if max_steps is None else max_steps, registry)
    check(run, e, script, rule=rule)
    return run


forms = pytest.mark.parametrize("form", ["sync", "async"])


# ---------------------------------------------------------------------------------------------
# Hypothesis: scripts


# A script is drawn from a fixed pool of tool calls, built once from a seeded random.Random and
# ordered from the simplest: each call is one choice for Hypothesis, so generating is cheap and a
# failing script shrinks fast (to fewer replies, fewer calls, and calls earlier in the pool).

SMALL_INTS = [0, 1, -1, 2, 3, -3]
TEXTS = ["hi", "Paris", "café", "", 'say "hi"', "a\\b", "日本"]
CITIES = ["Oslo", "Paris", "Lima", "Reykjavík"]
NUMBERS = [1, 0.5, -2, 2.25, 1.0, 10.0, 3]
SECONDS = [0, 1, 2, 3, 7]
ANY_VALUES = ["7", 7, 7.5, 1.0, True, False, None, [1, "a"], {"k": 1}, "c", 2]
MALFORMED_TEXTS = [
    '{"name": "add", "arguments": {"a": 1',
    "[1, 2]",
    '{"name": 7, "arguments": {}}',
    '{"name": "add", "arguments": [1, 2]}',
    '{"name": "now"}',
    '{"arguments": {}}',
    "",
    "null",
    '"add"',
    "{'name': 'now', 'arguments': {}}",
    '{"name": "now", "arguments": null}',
    '{"name": "echo", "arguments": "{\\"text\\": \\"hi\\"}"}',
]
UNKNOWN_NAMES = ["wether", "Search", "calculator", ""]
RAISING = [
    {"name": "divide", "arguments": {"a": 1, "b": 0}},
    {"name": "divide", "arguments": {"a": 2.5, "b": 0.0}},
    {"name": "lookup", "arguments": {"key": "tau"}},
    {"name": "fail_after", "arguments": {"seconds": 1, "label": "boom"}},
    {"name": "upstream", "arguments": {"seconds": 2}},
]
CONTENTS = ["", "Let me check.", "On it.", "Here you go."]


def shuffled(rnd: random.Random, arguments: dict[str, Any]) -> dict[str, Any]:
    keys = list(arguments)
    rnd.shuffle(keys)
    return {k: arguments[k] for k in keys}


def valid_arguments(rnd: random.Random, name: str) -> dict[str, Any]:
    def maybe(items: Sequence[Any]) -> Any:
        return rnd.choice(items) if rnd.random() < 0.5 else None

    if name == "add":
        args = {"a": rnd.choice(SMALL_INTS), "b": rnd.choice(SMALL_INTS)}
    elif name == "echo":
        args = {"text": rnd.choice(TEXTS)}
    elif name == "weather":
        args = {"city": rnd.choice(CITIES), "units": maybe(["c", "f"]), "days": maybe([1, 2, 3])}
    elif name == "search":
        args = {"q": rnd.choice(TEXTS), "limit": maybe([1, 2, 3])}
    elif name == "divide":
        args = {"a": rnd.choice(NUMBERS), "b": rnd.choice(NUMBERS)}
    elif name == "lookup":
        args = {"key": rnd.choice(["pi", "e"])}
    elif name == "now":
        args = {}
    elif name == "kinds":
        everything = {
            "s": rnd.choice(TEXTS),
            "i": rnd.choice(SMALL_INTS),
            "n": rnd.choice(NUMBERS),
            "b": rnd.random() < 0.5,
            "a": [1, "x"],
            "o": {"k": [None]},
            "z": None,
        }
        return shuffled(rnd, {k: v for k, v in everything.items() if rnd.random() < 0.5})
    elif name == "noop":
        args = {"x": maybe(NUMBERS)}
    elif name in ("wait", "wait_t", "fail_after"):
        args = {"seconds": rnd.choice(SECONDS), "label": rnd.choice(TEXTS)}
    elif name == "upstream":
        args = {"seconds": rnd.choice([0, 2])}
    else:
        raise AssertionError(name)
    return shuffled(rnd, {k: v for k, v in args.items() if v is not None})


def broken_arguments(rnd: random.Random, name: str, registry: dict[str, ToolDef]) -> dict[str, Any]:
    args = valid_arguments(rnd, name)
    schema = registry[name].parameters or {}
    properties = schema.get("properties", {})
    for _ in range(rnd.choice([1, 1, 2, 3])):
        mutation = rnd.choice(["drop", "extra", "type", "type", "enum"])
        if mutation == "drop" and schema.get("required"):
            args.pop(rnd.choice(schema["required"]), None)
        elif mutation == "extra":
            args[rnd.choice(["extra", "verbose", "A"])] = rnd.choice(ANY_VALUES)
        elif mutation == "type" and properties:
            args[rnd.choice(sorted(properties))] = rnd.choice(ANY_VALUES)
        elif mutation == "enum":
            enums = [k for k, p in properties.items() if "enum" in p]
            if enums:
                key = rnd.choice(enums)
                args[key] = "k" if properties[key]["type"] == "string" else 7
    return shuffled(rnd, args)


def spell(body: dict[str, Any], style: int) -> str:
    if style == 1:
        return json.dumps(body, separators=(",", ":"))
    if style == 2:
        return json.dumps(body, indent=2)
    if style == 3:
        return json.dumps(body, ensure_ascii=False)
    return json.dumps(body)


def random_call(rnd: random.Random, level: int, registry: dict[str, ToolDef]) -> str:
    """The JSON text of one tool call; from level 2 on, possibly wrong in any way the statement lists."""
    kinds = ["valid"] * 3 + (
        ["broken"] * 3 + ["malformed", "unknown", "raises"] if level >= 2 else []
    )
    kind = rnd.choice(kinds)
    if kind == "malformed":
        return rnd.choice(MALFORMED_TEXTS)
    if kind == "unknown":
        body: dict[str, Any] = {"name": rnd.choice(UNKNOWN_NAMES), "arguments": {"q": "x"}}
    elif kind == "raises":
        body = rnd.choice([b for b in RAISING if b["name"] in registry])
    else:
        name = rnd.choice(sorted(registry))
        if kind == "broken":
            arguments = broken_arguments(rnd, name, registry)
        else:
            arguments = valid_arguments(rnd, name)
            if name == "divide" and arguments["b"] == 0:
                arguments["b"] = 2
        body = {"name": name, "arguments": arguments}
    if rnd.random() < 0.15:
        body = {"type": "function", **body} if rnd.random() < 0.5 else {**body, "type": "function"}
    return spell(body, rnd.choice([0, 0, 1, 2, 3]))


def call_pool(level: int, registry: dict[str, ToolDef], size: int = 400) -> list[str]:
    """Simple valid calls first (one per tool), then `size` random ones; no duplicates."""
    rnd = random.Random(f"agent_loop pool {level} {len(registry)}")
    simple = [
        json.dumps({"name": n, "arguments": valid_arguments(rnd, n)}) for n in sorted(registry)
    ]
    texts = simple + [random_call(rnd, level, registry) for _ in range(size)]
    return list(dict.fromkeys(texts))


POOLS = {
    (level, id(registry)): st.sampled_from(call_pool(min(level, 2), registry))
    for level in (1, 2, 3, 4)
    for registry in (TOOLS, ASYNC_TOOLS)
}
REPEAT = st.tuples(
    st.integers(0, 20), st.integers(0, 3), st.integers(0, 7)
)  # which, where, spelling


@st.composite
def scripts(
    draw: st.DrawFn, level: int, registry: dict[str, ToolDef] = TOOLS
) -> list[dict[str, Any]]:
    """A script of replies. Below level 3 it never repeats a call and always ends with an answer."""
    pool = POOLS[level, id(registry)]
    steps = draw(st.lists(st.lists(pool, min_size=1, max_size=3), max_size=5), label="calls")
    if level >= 3:  # make repeats common: re-spell a parsed call of an earlier step
        repeats = draw(st.lists(st.none() | REPEAT, max_size=len(steps)), label="repeats")
        for k, repeat in enumerate(repeats):
            earlier = [
                t for j in range(k) for t in steps[j] if classify(t, registry).key is not None
            ]
            if repeat is None or not earlier:
                continue
            which, where, spelling = repeat
            parsed = json.loads(earlier[which % len(earlier)])
            arguments = shuffled(random.Random(spelling), parsed["arguments"])
            respelled = spell({"name": parsed["name"], "arguments": arguments}, spelling % 4)
            steps[k].insert(where % (len(steps[k]) + 1), respelled)
    else:  # replace any call that repeats an earlier step's by a unique one
        made: set[tuple[str, str]] = set()
        for k, texts_k in enumerate(steps):
            for j, text in enumerate(texts_k):
                if classify(text, registry).key in made:
                    texts_k[j] = json.dumps(
                        {"name": "echo", "arguments": {"text": f"note {k}.{j}"}}
                    )
            made.update(key for t in texts_k if (key := classify(t, registry).key) is not None)
    script = []
    n = 0
    for texts_k in steps:
        calls = []
        for text in texts_k:
            n += 1
            calls.append(raw(f"c{n}", text))
        script.append(asks(*calls, content=CONTENTS[n % len(CONTENTS)]))
    endings = ["answer", "empty tool_calls"] + (["none"] if level >= 3 else [])
    ending = draw(st.sampled_from(endings), label="ending")
    if ending != "none":
        final = answer(CONTENTS[len(script) % len(CONTENTS)] or "Done.")
        if ending == "empty tool_calls":
            final["tool_calls"] = []
        script.append(final)
    return script


# ---------------------------------------------------------------------------------------------
# Level 1: the loop

README_L1 = [
    asks(
        call("c1", "add", {"a": 2, "b": 3}), call("c2", "add", {"a": 5, "b": 8}), content="Adding."
    ),
    answer("5 and 13."),
]

CASES_L1 = {
    "answer-at-once": ([answer("Hello.")], RULE_FINAL),
    "empty-tool-calls-is-final": ([asks(content="Nothing to do.")], RULE_FINAL),
    "readme": (README_L1, RULE_RESULT),
    "three-steps": (
        [
            asks(call("w1", "weather", {"city": "Oslo", "days": 2})),
            asks(call("s1", "search", {"q": "fjords", "limit": 3}), content="Searching."),
            answer("Pack a coat."),
        ],
        RULE_MODEL,
    ),
    "json-dumps-contents": (
        [
            asks(
                call("t1", "echo", {"text": "Paris"}),
                call("t2", "echo", {"text": "café"}),
                call("t3", "weather", {"city": "Lima", "units": "f"}),
                call("t4", "search", {"q": "kata"}),
                call("t5", "lookup", {"key": "pi"}),
                call("t6", "noop", {}),
                call("t7", "now", {}),
                call("t8", "divide", {"a": 1, "b": 4}),
            ),
            answer(),
        ],
        RULE_RESULT,
    ),
    "order-of-calls": (
        [
            asks(
                call("z", "echo", {"text": "first"}),
                call("a", "echo", {"text": "second"}),
                call("m", "add", {"a": 1, "b": 1}),
                call("b", "echo", {"text": "fourth"}),
            ),
            answer(),
        ],
        RULE_ORDER,
    ),
    "keyword-arguments": (
        [asks(call("k1", "weather", {"days": 3, "city": "Oslo", "units": "f"})), answer()],
        RULE_RESULT,
    ),
    "reply-kept-unchanged": (
        [
            {
                **asks(call("u1", "echo", {"text": "x"}), content="Thinking."),
                "model": "m-1",
                "usage": {"tokens": 12},
            },
            answer("Bye.", finish_reason="stop", usage={"tokens": 3}),
        ],
        RULE_MODEL,
    ),
    "extra-keys-in-call-object-ignored": (
        [asks(call("x1", "add", {"a": 1, "b": 2}, type="function")), answer()],
        RULE_RESULT,
    ),
}


@pytest.mark.level(1)
@pytest.mark.parametrize("case", sorted(CASES_L1))
def test_the_loop_runs_tools_until_the_final_answer(impl, case):
    script, rule = CASES_L1[case]
    run_and_check(impl, script, rule=rule)


@pytest.mark.level(1)
def test_the_model_gets_the_transcript_so_far(impl):
    script = [
        asks(call("c1", "echo", {"text": "a"})),
        asks(call("c2", "echo", {"text": "b"}), call("c3", "echo", {"text": "c"})),
        answer(),
    ]
    run = run_and_check(impl, script, rule=RULE_MODEL)
    lengths = [len(seen) for seen in run.env.seen]
    if lengths != [1, 3, 6]:
        fail(
            RULE_MODEL,
            call=describe("sync", script, None),
            expected="[1, 3, 6]",
            actual=str(lengths),
            show_values=False,
        )


@pytest.mark.level(1)
@given(script=scripts(level=1))
@settings(max_examples=40)
def test_any_script_of_valid_calls_follows_the_loop(impl, script):
    run_and_check(impl, script)


# ---------------------------------------------------------------------------------------------
# Level 2: validation, errors fed back


CASES_L2 = {
    "readme-table": (
        [
            asks(
                raw("r1", '{"name": "weather", "arguments": {"city": "Oslo"'),
                raw("r2", '{"name": "wether", "arguments": {"city": "Oslo"}}'),
                raw("r3", '{"name": "weather", "arguments": {"units": "k"}}'),
                raw("r4", '{"name": "weather", "arguments": {"units": "k", "city": 7}}'),
                raw("r5", '{"name": "weather", "arguments": {"city": "Oslo", "days": 3}}'),
                raw("r6", '{"name": "add", "arguments": {"a": true, "b": 1}}'),
                raw("r7", '{"name": "divide", "arguments": {"a": 1, "b": 0}}'),
            ),
            answer("Sorry."),
        ],
        None,
    ),
    "malformed": (
        [asks(*(raw(f"m{i}", text) for i, text in enumerate(MALFORMED_TEXTS))), answer()],
        RULE_MALFORMED,
    ),
    "unknown-tool": (
        [asks(call("u1", "wether", {"city": "Oslo"}), call("u2", "Echo", {"text": "x"})), answer()],
        RULE_UNKNOWN,
    ),
    "missing-in-required-order": (
        [
            asks(
                call("q1", "add", {}), call("q2", "add", {"b": 1}), call("q3", "divide", {"b": 2})
            ),
            answer(),
        ],
        RULE_MISSING,
    ),
    "unexpected": (
        [
            asks(call("e1", "echo", {"text": "x", "loud": True}), call("e2", "now", {"tz": "UTC"})),
            answer(),
        ],
        RULE_UNEXPECTED,
    ),
    "bool-is-not-a-number": (
        [
            asks(
                call("b1", "add", {"a": True, "b": 1}),
                call("b2", "divide", {"a": 1, "b": False}),
                call("b3", "kinds", {"i": False}),
                call("b4", "kinds", {"n": True}),
            ),
            answer(),
        ],
        RULE_TYPE,
    ),
    "float-is-not-an-integer": (
        [
            asks(
                call("f1", "add", {"a": 1.0, "b": 2}),
                call("f2", "weather", {"city": "Oslo", "days": 2.0}),
            ),
            answer(),
        ],
        RULE_TYPE,
    ),
    "other-wrong-types": (
        [
            asks(
                call("w1", "echo", {"text": 5}),
                call("w2", "kinds", {"a": {"k": 1}}),
                call("w3", "kinds", {"o": [1]}),
                call("w4", "kinds", {"z": 0}),
                call("w5", "kinds", {"s": None}),
                call("w6", "kinds", {"b": "true"}),
                call("w7", "divide", {"a": "1", "b": 2}),
            ),
            answer(),
        ],
        RULE_TYPE,
    ),
    "every-type-accepted": (
        [
            asks(
                call(
                    "k1",
                    "kinds",
                    {"s": "", "i": -3, "n": 2, "b": False, "a": [], "o": {}, "z": None},
                ),
                call("k2", "kinds", {"n": 0.5}),
                call("k3", "divide", {"a": 3, "b": 1.5}),
            ),
            answer(),
        ],
        RULE_TYPE,
    ),
    "enum": (
        [
            asks(
                call("n1", "weather", {"city": "Oslo", "units": "kelvin"}),
                call("n2", "search", {"q": "x", "limit": 4}),
                call("n3", "search", {"q": "x", "limit": 2}),
            ),
            answer(),
        ],
        RULE_ENUM,
    ),
    "type-before-enum": (
        [
            asks(
                call("t1", "search", {"q": "x", "limit": "2"}),
                call("t2", "weather", {"city": "Oslo", "units": 1}),
            ),
            answer(),
        ],
        RULE_FIRST,
    ),
    "first-violation": (
        [
            asks(
                call("v1", "weather", {"days": "3", "loud": 1}),
                call("v2", "weather", {"loud": 1, "days": "3", "city": "Oslo"}),
                call("v3", "weather", {"days": "3", "loud": 1, "city": "Oslo"}),
                call("v4", "add", {"c": 1}),
                call("v5", "add", {"b": 1.5, "a": "x"}),
            ),
            answer(),
        ],
        RULE_FIRST,
    ),
    "tool-exceptions": (
        [
            asks(
                call("x1", "divide", {"a": 1, "b": 0}),
                call("x2", "divide", {"a": 2.5, "b": 0.0}),
                call("x3", "lookup", {"key": "tau"}),
            ),
            answer(),
        ],
        RULE_RAISED,
    ),
    "schema-without-properties-or-required": (
        [
            asks(call("s1", "now", {}), call("s2", "kinds", {}), call("s3", "now", {"x": 1})),
            answer(),
        ],
        RULE_SCHEMA,
    ),
    "run-goes-on-after-errors": (
        [
            asks(call("g1", "add", {"a": 1})),
            asks(call("g2", "add", {"a": 1, "b": 2})),
            asks(raw("g3", "{oops"), call("g4", "echo", {"text": "ok"})),
            answer("3"),
        ],
        RULE_FED_BACK,
    ),
}


@pytest.mark.level(2)
@pytest.mark.parametrize("case", sorted(CASES_L2))
def test_errors_are_fed_back_as_tool_messages(impl, case):
    script, rule = CASES_L2[case]
    run_and_check(impl, script, rule=rule)


@pytest.mark.level(2)
def test_a_call_that_cannot_run_never_reaches_its_tool(impl):
    script = [
        asks(
            call("n1", "add", {"a": 1}),
            call("n2", "add", {"a": 1, "b": "2"}),
            call("n3", "echo", {"text": "x", "y": 1}),
            call("n4", "weather", {"city": "Oslo", "units": "k"}),
            raw("n5", '{"name": "echo", "arguments": {"text": "x"}'),
        ),
        answer(),
    ]
    run = run_and_check(impl, script, rule=RULE_FED_BACK)
    if run.env.invocations:
        fail(
            RULE_FED_BACK,
            call=describe("sync", script, None),
            expected="no tool called",
            actual=", ".join(f"{i.name}({canonical(i.arguments)})" for i in run.env.invocations),
            show_values=False,
        )


@pytest.mark.level(2)
@given(script=scripts(level=2))
@settings(max_examples=60)
def test_any_script_with_errors_follows_the_rules(impl, script):
    run_and_check(impl, script)


# ---------------------------------------------------------------------------------------------
# Level 3: the step limit and repeated calls


def forever(n: int, start: int = 0) -> list[dict[str, Any]]:
    """n replies, each asking for a call never made before."""
    return [asks(call(f"c{k}", "echo", {"text": f"step {k}"})) for k in range(start, start + n)]


SEARCH_KATA = [
    asks(call("c1", "search", {"q": "kata"})),
    asks(raw("c2", '{"name": "search", "arguments": { "q":"kata" }}')),
    answer("Found it."),
]

CASES_L3 = {
    "limit-1": (forever(3), 1, RULE_STEP_LIMIT),
    "limit-3": (forever(5), 3, RULE_STEP_LIMIT),
    "limit-runs-the-last-calls": (
        [
            asks(call("a", "echo", {"text": "1"})),
            asks(call("b", "add", {"a": 1, "b": 2}), call("c", "now")),
        ],
        2,
        RULE_STEP_LIMIT,
    ),
    "answer-on-the-last-step": ([*forever(2), answer("Just in time.")], 3, RULE_FINAL),
    "default-limit-is-10": (forever(12), None, RULE_STEP_LIMIT),
    "readme-repeat": (SEARCH_KATA, None, RULE_JSON_EQUAL),
    "readme-repeat-limit-1": (SEARCH_KATA, 1, RULE_STEP_LIMIT),
    "repeat-stops-before-running": (
        [
            asks(call("c1", "add", {"a": 1, "b": 2})),
            asks(
                call("c2", "echo", {"text": "new"}),
                call("c3", "add", {"b": 2, "a": 1}),
                call("c4", "now"),
            ),
            answer(),
        ],
        None,
        RULE_REPEAT_BEFORE,
    ),
    "first-repeating-name": (
        [
            asks(call("c1", "add", {"a": 1, "b": 2}), call("c2", "echo", {"text": "x"})),
            asks(
                call("c3", "now"),
                call("c4", "echo", {"text": "x"}),
                call("c5", "add", {"a": 1, "b": 2}),
            ),
            answer(),
        ],
        None,
        RULE_REPEAT_FIRST,
    ),
    "same-reply-duplicates-both-run": (
        [
            asks(call("c1", "echo", {"text": "x"}), call("c2", "echo", {"text": "x"})),
            asks(call("c3", "now")),
            answer(),
        ],
        None,
        RULE_SAME_REPLY,
    ),
    "same-reply-duplicates-count-later": (
        [
            asks(call("c1", "echo", {"text": "x"}), call("c2", "echo", {"text": "x"})),
            asks(call("c3", "echo", {"text": "x"})),
            answer(),
        ],
        None,
        RULE_REPEAT,
    ),
    "failed-calls-count": (
        [
            asks(
                call("c1", "wether", {"city": "Oslo"}),
                call("c2", "add", {"a": 1}),
                call("c3", "divide", {"a": 1, "b": 0}),
            ),
            asks(call("c4", "add", {"a": 1})),
            answer(),
        ],
        None,
        RULE_MADE,
    ),
    "unknown-tool-repeated": (
        [
            asks(call("c1", "wether", {"city": "Oslo"})),
            asks(call("c2", "wether", {"city": "Oslo"})),
            answer(),
        ],
        None,
        RULE_MADE,
    ),
    "raising-call-repeated": (
        [
            asks(call("c1", "lookup", {"key": "tau"})),
            asks(call("c2", "lookup", {"key": "tau"})),
            answer(),
        ],
        None,
        RULE_MADE,
    ),
    "malformed-never-counts": (
        [
            asks(raw("c1", '{"name": "now"}')),
            asks(raw("c2", '{"name": "now"}')),
            asks(raw("c3", "{oops")),
            asks(raw("c4", "{oops")),
            answer(),
        ],
        None,
        RULE_MADE,
    ),
    "json-values-not-python-values": (
        [
            asks(call("c1", "noop", {"x": 1})),
            asks(call("c2", "noop", {"x": 1.0})),
            asks(call("c3", "kinds", {"i": 1})),
            asks(call("c4", "kinds", {"b": True})),
            asks(call("c5", "kinds", {"n": 1})),
            answer(),
        ],
        None,
        RULE_JSON_EQUAL,
    ),
    "key-order-and-spacing": (
        [
            asks(raw("c1", '{"name": "weather", "arguments": {"city": "Oslo", "days": 2}}')),
            asks(raw("c2", '{"arguments":{"days":2,"city":"Oslo"},"name":"weather"}')),
            answer(),
        ],
        None,
        RULE_JSON_EQUAL,
    ),
    "same-arguments-other-tool": (
        [
            asks(call("c1", "echo", {"text": "x"})),
            asks(call("c2", "search", {"q": "x"})),
            asks(call("c3", "lookup", {"key": "pi"})),
            asks(call("c4", "lookup", {"key": "e"})),
            answer(),
        ],
        None,
        RULE_REPEAT,
    ),
    "repeat-on-the-last-step": (
        [asks(call("c1", "echo", {"text": "x"})), asks(call("c2", "echo", {"text": "x"}))],
        2,
        RULE_REPEAT_BEFORE,
    ),
}


@pytest.mark.level(3)
@pytest.mark.parametrize("case", sorted(CASES_L3))
def test_the_step_limit_and_repeated_calls_stop_the_run(impl, case):
    script, max_steps, rule = CASES_L3[case]
    run_and_check(impl, script, max_steps=max_steps, rule=rule)


@pytest.mark.level(3)
@pytest.mark.parametrize("max_steps", [0, -1])
def test_max_steps_below_one_raises_value_error(impl, max_steps):
    run = execute(impl, "sync", [answer()], max_steps)
    call_text = f"run_agent(model, tools, {PROMPT!r}, max_steps={max_steps})"
    if not isinstance(run.error, ValueError) or run.env.seen:
        got = (
            f"raised {type(run.error).__name__}: {run.error}"
            if run.error is not None
            else "the model was called too often"
            if run.overrun
            else f"returned {show(run.transcript)}"
        )
        fail(
            RULE_MAX_STEPS,
            call=call_text,
            expected="raises ValueError; the model is never called",
            actual=f"{got}; the model was called {len(run.env.seen)} times",
            show_values=False,
        )


@pytest.mark.level(3)
@given(script=scripts(level=3), max_steps=st.none() | st.integers(1, 6))
@settings(max_examples=80)
def test_any_script_follows_every_rule(impl, script, max_steps):
    run_and_check(impl, script, max_steps=max_steps)


# ---------------------------------------------------------------------------------------------
# Level 4: run_agent_async, concurrent calls with timeouts


def wait(call_id: str, seconds: float, label: str, tool: str = "wait") -> dict[str, str]:
    return call(call_id, tool, {"seconds": seconds, "label": label})


ALL_EARLIER = {
    **{f"L1-{k}": (s, None, r) for k, (s, r) in CASES_L1.items()},
    **{f"L2-{k}": (s, None, r) for k, (s, r) in CASES_L2.items()},
    **{f"L3-{k}": v for k, v in CASES_L3.items()},
}


@pytest.mark.level(4)
@pytest.mark.parametrize("case", sorted(ALL_EARLIER))
def test_every_rule_of_run_agent_holds_in_the_async_form(impl, case):
    script, max_steps, rule = ALL_EARLIER[case]
    run_and_check(impl, script, max_steps=max_steps, form="async", rule=rule)


CASES_L4 = {
    "readme": (
        [
            asks(
                wait("p", 2, "Paris: 18 C"),
                wait("o", 1, "Oslo: 9 C"),
                wait("s", 30, "results", "wait_t"),
            ),
            answer("Paris is warmer."),
        ],
        RULE_TIMEOUT,
    ),
    "concurrent": (
        [asks(wait("a", 3, "a"), wait("b", 1, "b"), wait("c", 2, "c")), answer()],
        RULE_CONCURRENT,
    ),
    "finish-order-is-not-result-order": (
        [
            asks(
                wait("a", 7, "slow"),
                wait("b", 0, "instant"),
                wait("c", 2, "medium"),
                call("d", "echo", {"text": "sync"}),
            ),
            answer(),
        ],
        RULE_ASYNC_ORDER,
    ),
    "model-waits-for-every-call": (
        [
            asks(wait("a", 2, "a"), wait("b", 3, "b")),
            asks(wait("c", 1, "c")),
            asks(wait("d", 7, "d")),
            answer(),
        ],
        RULE_WAIT_ALL,
    ),
    "timeout-cancels-only-its-call": (
        [
            asks(
                wait("t", 7, "too slow", "wait_t"),
                wait("f", 1, "fast", "wait_t"),
                wait("n", 7, "no limit"),
            ),
            answer(),
        ],
        RULE_TIMEOUT,
    ),
    "none-or-absent-timeout-means-no-limit": (
        [asks(wait("n", 30, "none"), wait("a", 25, "absent", "fail_after")), answer()],
        RULE_NO_LIMIT,
    ),
    "exception-does-not-affect-others": (
        [
            asks(
                wait("x", 1, "boom", "fail_after"),
                wait("y", 3, "fine"),
                call("z", "divide", {"a": 1, "b": 0}),
            ),
            answer(),
        ],
        RULE_ISOLATED,
    ),
    "tool-timeout-error-is-ordinary": (
        [asks(call("u", "upstream", {"seconds": 2}), wait("w", 1, "ok", "wait_t")), answer()],
        RULE_OWN_TIMEOUT,
    ),
    "errors-and-waits-in-one-reply": (
        [
            asks(
                call("e1", "add", {"a": 1}),
                wait("w", 2, "x"),
                raw("e2", "{"),
                wait("t", 7, "y", "wait_t"),
            ),
            answer(),
        ],
        RULE_FED_BACK,
    ),
    "limit-after-a-slow-turn": (
        [asks(wait("a", 3, "a")), asks(wait("b", 7, "b", "wait_t"))],
        RULE_STEP_LIMIT,
    ),
}
MAX_STEPS_L4 = {"limit-after-a-slow-turn": 2}


@pytest.mark.level(4)
@pytest.mark.parametrize("case", sorted(CASES_L4))
def test_calls_of_one_reply_run_concurrently_with_timeouts(impl, case):
    script, rule = CASES_L4[case]
    run_and_check(impl, script, max_steps=MAX_STEPS_L4.get(case), form="async", rule=rule)


@pytest.mark.level(4)
def test_a_turn_takes_as_long_as_its_slowest_call(impl):
    script = [asks(wait("a", 3, "a"), wait("b", 2, "b"), wait("c", 1, "c")), answer()]
    run = run_and_check(impl, script, form="async", rule=RULE_CONCURRENT)
    if run.returned_at != 3.0:
        fail(
            RULE_CONCURRENT,
            call=describe("async", script, None),
            expected="the run returns at loop time 3.0 (calls of 3, 2 and 1 s at once)",
            actual=f"it returned at loop time {run.returned_at}",
            show_values=False,
            detail=timeline(run.env),
        )


@pytest.mark.level(4)
@pytest.mark.parametrize("max_steps", [0, -2])
def test_async_max_steps_below_one_raises_value_error(impl, max_steps):
    run = execute(impl, "async", [answer()], max_steps)
    if not isinstance(run.error, ValueError) or run.env.seen:
        got = (
            f"raised {type(run.error).__name__}: {run.error}"
            if run.error is not None
            else f"returned {show(run.transcript)}"
        )
        fail(
            RULE_MAX_STEPS,
            call=f"await run_agent_async(model, tools, {PROMPT!r}, max_steps={max_steps})",
            expected="raises ValueError; the model is never called",
            actual=f"{got}; the model was called {len(run.env.seen)} times",
            show_values=False,
        )


@pytest.mark.level(4)
@given(script=scripts(level=4, registry=ASYNC_TOOLS), max_steps=st.none() | st.integers(1, 6))
@settings(max_examples=60)
def test_any_async_script_follows_every_rule_in_loop_time(impl, script, max_steps):
    run_and_check(impl, script, max_steps=max_steps, form="async")

"""Agent loop with tool calls: reference solution.

The loop of OpenAI's and Anthropic's tool-use guides (call the model; while it asks for tools, run
them and send the results back), with the guards that production agents add: arguments checked
against the tool's JSON schema before the tool runs, every failure returned to the model as a tool
message (as the Responses API and LangChain's `handle_tool_error` do), a cap on model calls
(`AgentExecutor.max_iterations`) and a stop on a call repeated verbatim. The async form runs one
reply's calls concurrently under per-tool timeouts, as `asyncio.gather` over `asyncio.wait_for`.

Deciding is pure and shared (`_parse`, `_validate`, `_Run`); only running a call and awaiting the
model differ between the two forms.

Notes
-----
- Complexity: per call, O(size of its JSON) to parse, validate and key it; the repeat check is a set
  of canonical keys (`json.dumps([name, arguments], sort_keys=True)`), so a run of C calls costs
  O(total JSON size), not O(C²) comparisons. The transcript is passed to the model by reference:
  copying it for every step would make a long run quadratic.
- Design: `_parse` turns a raw call into a `_Call` that either carries its error message or is
  ready to run; repeats are checked on the whole reply before anything of it runs, so a reply never
  half-runs. Tool exceptions are caught around the tool alone, so a bug in the loop still raises.
- Async: `_invoke` catches the tool's own exceptions *inside* `wait_for`, so the only `TimeoutError`
  that reaches the outside is the timeout's, and a tool raising `TimeoutError` is reported as
  itself. `gather` keeps the order of its arguments, whatever the order of completion.
- Trade-offs: stopping on an exact repeat is cheap and never wrong, but misses loops that vary an
  argument; frameworks also cap consecutive errors, total tokens or wall time. Feeding validation
  errors back lets the model repair a call (most do, in one step), at the price of a step.
- Follow-ups interviewers ask: streaming tool-call arguments (parse incrementally, run when the JSON
  closes); nested schemas (`items`, nested `properties`, `oneOf`) or a real validator
  (`jsonschema`); retries with backoff for transient tool errors; a budget in tokens rather than
  steps; cancelling the whole run on a deadline (`asyncio.timeout` around the loop); limiting
  concurrency (`asyncio.Semaphore`); tools with side effects and idempotency (a repeated `send_email`
  is not harmless); where to trim the transcript when it outgrows the context window.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Message = dict[str, Any]
Tools = Mapping[str, Mapping[str, Any]]

STEP_LIMIT = "stopped: step limit reached"
MALFORMED = "error: malformed tool call"
TIMED_OUT = "error: timed out"

_IS_TYPE: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


@dataclass(frozen=True)
class _Call:
    """One parsed tool call: ready to run when `error` is None."""

    id: str
    name: str | None = None  # None: malformed, never counted as made
    arguments: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    tool: Mapping[str, Any] = field(default_factory=dict)  # the registry's entry, when it exists

    @property
    def key(self) -> str | None:
        """Equal for calls with the same name and JSON-equal arguments."""
        if self.name is None:
            return None
        return json.dumps([self.name, self.arguments], sort_keys=True)


def _validate(arguments: Mapping[str, Any], schema: Mapping[str, Any]) -> str | None:
    """The first violation of the schema subset, as a tool message, or None."""
    properties = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in arguments:
            return f"error: missing argument '{name}'"
    for name, value in arguments.items():
        spec = properties.get(name)
        if spec is None:
            return f"error: unexpected argument '{name}'"
        if not _IS_TYPE[spec["type"]](value):
            return f"error: argument '{name}' must be {spec['type']}"
        if "enum" in spec and value not in spec["enum"]:
            return f"error: argument '{name}' must be one of {json.dumps(spec['enum'])}"
    return None


def _parse(raw: Mapping[str, Any], tools: Tools) -> _Call:
    call_id = raw["id"]
    try:
        parsed = json.loads(raw["json"])
    except json.JSONDecodeError:
        return _Call(call_id, error=MALFORMED)
    if not (
        isinstance(parsed, dict)
        and isinstance(parsed.get("name"), str)
        and isinstance(parsed.get("arguments"), dict)
    ):
        return _Call(call_id, error=MALFORMED)
    name, arguments = parsed["name"], parsed["arguments"]
    if name not in tools:
        return _Call(call_id, name, arguments, f"error: unknown tool '{name}'")
    tool = tools[name]
    return _Call(call_id, name, arguments, _validate(arguments, tool.get("parameters", {})), tool)


def _failed(exc: Exception) -> str:
    return f"error: {type(exc).__name__}: {exc}"


class _Run:
    """The transcript and what the run has decided so far; shared by both forms."""

    def __init__(self, tools: Tools, prompt: str, max_steps: int) -> None:
        if max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {max_steps}")
        self.tools = tools
        self.max_steps = max_steps
        self.messages: list[Message] = [{"role": "user", "content": prompt}]
        self.steps = 0
        self.made: set[str] = set()  # keys of every parsed call of earlier steps

    def take(self, reply: Message) -> list[_Call]:
        """Append the model's reply; the calls to run now, or [] when the run is over."""
        self.steps += 1
        self.messages.append(reply)
        calls = [_parse(raw, self.tools) for raw in reply.get("tool_calls") or []]
        keys = [call.key for call in calls]
        for call, key in zip(calls, keys, strict=True):
            if key is not None and key in self.made:
                self._stop(f"stopped: repeated call to {call.name}")
                return []
        self.made.update(key for key in keys if key is not None)
        return calls

    def record(self, calls: list[_Call], contents: list[str]) -> bool:
        """Append one tool message per call, in order; whether the model is called again."""
        for call, content in zip(calls, contents, strict=True):
            self.messages.append({"role": "tool", "id": call.id, "content": content})
        if self.steps >= self.max_steps:
            self._stop(STEP_LIMIT)
            return False
        return True

    def _stop(self, content: str) -> None:
        self.messages.append({"role": "assistant", "content": content})


def _run_call(call: _Call) -> str:
    if call.error is not None:
        return call.error
    try:
        return json.dumps(call.tool["fn"](**call.arguments))
    except Exception as exc:  # noqa: BLE001 - the model is told, the run goes on
        return _failed(exc)


def run_agent(
    model: Callable[[list[Message]], Message],
    tools: dict[str, dict[str, Any]],
    prompt: str,
    *,
    max_steps: int = 10,
) -> list[Message]:
    """Run the model until it answers, feeding back tool results and errors; return the transcript."""
    run = _Run(tools, prompt, max_steps)
    while calls := run.take(model(run.messages)):
        if not run.record(calls, [_run_call(call) for call in calls]):
            break
    return run.messages


async def _invoke(fn: Callable[..., Awaitable[Any]], arguments: dict[str, Any]) -> str:
    try:
        return json.dumps(await fn(**arguments))
    except Exception as exc:  # noqa: BLE001 - the tool's own exceptions, TimeoutError included
        return _failed(exc)


async def _run_call_async(call: _Call) -> str:
    if call.error is not None:
        return call.error
    try:
        return await asyncio.wait_for(
            _invoke(call.tool["fn"], call.arguments), call.tool.get("timeout")
        )
    except TimeoutError:  # only wait_for's: _invoke catches the tool's own
        return TIMED_OUT


async def run_agent_async(
    model: Callable[[list[Message]], Awaitable[Message]],
    tools: dict[str, dict[str, Any]],
    prompt: str,
    *,
    max_steps: int = 10,
) -> list[Message]:
    """run_agent with an async model and tools; one reply's calls run concurrently."""
    run = _Run(tools, prompt, max_steps)
    while calls := run.take(await model(run.messages)):
        contents = await asyncio.gather(*(_run_call_async(call) for call in calls))
        if not run.record(calls, list(contents)):
            break
    return run.messages

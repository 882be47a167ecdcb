"""Agent loop with tool calls. Read README.md beside this file for the rules; `kata run agent_loop` grades you."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any


def run_agent(
    model: Callable[[list[dict[str, Any]]], dict[str, Any]],
    tools: dict[str, dict[str, Any]],
    prompt: str,
    *,
    max_steps: int = 10,
) -> list[dict[str, Any]]:
    """Run the model until it answers; return the whole transcript.

    messages: dicts. {"role": "user", "content": prompt} first; then each reply of model(messages),
    appended unchanged: {"role": "assistant", "content": str, "tool_calls": [{"id": str,
    "json": '{"name": str, "arguments": {...}}'}, ...]} (tool_calls missing or [] = final answer);
    then one {"role": "tool", "id": call id, "content": json.dumps(result)} per call, in order.
    tools: name -> {"fn": called as fn(**arguments), "parameters": JSON-schema subset}.

    Level 2: a call that cannot run (malformed JSON, unknown tool, invalid arguments) or whose fn
    raises gets "error: ..." as its tool message content; nothing is raised.
    Level 3: the model is called at most max_steps times (ValueError if < 1), then
    "stopped: step limit reached"; a call repeating an earlier step's call (same name, same
    arguments) stops the run with "stopped: repeated call to NAME" before anything of its reply runs.
    """
    raise NotImplementedError("run_agent: level 1")


async def run_agent_async(
    model: Callable[[list[dict[str, Any]]], Awaitable[dict[str, Any]]],
    tools: dict[str, dict[str, Any]],
    prompt: str,
    *,
    max_steps: int = 10,
) -> list[dict[str, Any]]:
    """run_agent with an async model and async tools: every rule of run_agent holds.

    The calls of one reply run concurrently; their tool messages keep the order of the calls.
    A tool's dict may hold "timeout" (seconds, None or absent = no limit): a call still running
    that long after it started is cancelled and its content is "error: timed out". Time is the
    event loop's clock (asyncio.wait_for, asyncio.timeout, asyncio.sleep); never time.sleep.
    """
    raise NotImplementedError("run_agent_async: level 4")

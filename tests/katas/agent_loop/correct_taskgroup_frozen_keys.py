"""A correct agent_loop in another style: a for loop over the steps, a validator keyed by Python
types, repeat keys frozen into tagged tuples (not JSON text), and a TaskGroup with asyncio.timeout
per call, results written into slots by index."""

import asyncio
import json

PY_TYPES = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def freeze(value):
    """A hashable key that tells JSON values apart: 1, 1.0 and true differ; key order does not."""
    if isinstance(value, dict):
        return ("o", tuple(sorted((k, freeze(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("a", tuple(freeze(v) for v in value))
    return (type(value).__name__, value)


def type_ok(value, wanted):
    if isinstance(value, bool):  # bool is an int subclass, but never a JSON number
        return wanted == "boolean"
    return isinstance(value, PY_TYPES[wanted])


def check_arguments(args, schema):
    props = schema.get("properties") or {}
    missing = [r for r in schema.get("required") or [] if r not in args]
    if missing:
        return "error: missing argument '%s'" % missing[0]
    for key in args:
        if key not in props:
            return "error: unexpected argument '%s'" % key
        spec = props[key]
        if not type_ok(args[key], spec["type"]):
            return "error: argument '%s' must be %s" % (key, spec["type"])
        if "enum" in spec and args[key] not in spec["enum"]:
            return "error: argument '%s' must be one of %s" % (key, json.dumps(spec["enum"]))
    return None


def prepare(tool_call, tools):
    """(problem or None, name or None, args) for one raw call."""
    try:
        body = json.loads(tool_call["json"])
    except ValueError:
        return "error: malformed tool call", None, None
    if type(body) is not dict:
        return "error: malformed tool call", None, None
    name, args = body.get("name"), body.get("arguments")
    if not isinstance(name, str) or not isinstance(args, dict):
        return "error: malformed tool call", None, None
    if name not in tools:
        return "error: unknown tool '%s'" % name, name, args
    return check_arguments(args, tools[name].get("parameters") or {}), name, args


def plan(reply, tools, history):
    """The prepared calls of a reply, or a stop message when one repeats an earlier step's call."""
    prepared = [prepare(tc, tools) for tc in reply.get("tool_calls") or []]
    keys = [None if name is None else (name, freeze(args)) for _, name, args in prepared]
    for (_, name, _), key in zip(prepared, keys):
        if key is not None and key in history:
            return prepared, "stopped: repeated call to " + name
    history.update(k for k in keys if k is not None)
    return prepared, None


def run_agent(model, tools, prompt, *, max_steps=10):
    if max_steps < 1:
        raise ValueError("max_steps < 1")
    transcript = [{"role": "user", "content": prompt}]
    history = set()
    for _ in range(max_steps):
        reply = model(transcript)
        transcript.append(reply)
        if not reply.get("tool_calls"):
            return transcript
        prepared, stop = plan(reply, tools, history)
        if stop:
            transcript.append({"role": "assistant", "content": stop})
            return transcript
        for tc, (problem, name, args) in zip(reply["tool_calls"], prepared):
            if problem is None:
                try:
                    problem = json.dumps(tools[name]["fn"](**args))
                except Exception as exc:
                    problem = "error: %s: %s" % (exc.__class__.__name__, exc)
            transcript.append({"role": "tool", "id": tc["id"], "content": problem})
    transcript.append({"role": "assistant", "content": "stopped: step limit reached"})
    return transcript


async def run_agent_async(model, tools, prompt, *, max_steps=10):
    if max_steps < 1:
        raise ValueError("max_steps < 1")
    transcript = [{"role": "user", "content": prompt}]
    history = set()
    for _ in range(max_steps):
        reply = await model(transcript)
        transcript.append(reply)
        if not reply.get("tool_calls"):
            return transcript
        prepared, stop = plan(reply, tools, history)
        if stop:
            transcript.append({"role": "assistant", "content": stop})
            return transcript
        slots = [problem for problem, _, _ in prepared]

        async def fill(i, name, args):
            tool = tools[name]
            outcome = None
            try:
                async with asyncio.timeout(tool.get("timeout")) as scope:
                    try:
                        outcome = json.dumps(await tool["fn"](**args))
                    except Exception as exc:
                        outcome = "error: %s: %s" % (exc.__class__.__name__, exc)
            except TimeoutError:
                if not scope.expired():
                    raise
                outcome = "error: timed out"
            slots[i] = outcome

        async with asyncio.TaskGroup() as group:
            for i, (problem, name, args) in enumerate(prepared):
                if problem is None:
                    group.create_task(fill(i, name, args))
        for tc, content in zip(reply["tool_calls"], slots):
            transcript.append({"role": "tool", "id": tc["id"], "content": content})
    transcript.append({"role": "assistant", "content": "stopped: step limit reached"})
    return transcript

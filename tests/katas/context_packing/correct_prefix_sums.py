"""A correct packer in another style: costs counted up front, the number of newest messages that
fit read off running sums (itertools.accumulate), word starts found with a regular expression and
tried longest first, old tool results removed from a set of kept indices."""

import itertools
import re

TRUNCATION_MARKER = "[truncated] "
WORD_START = re.compile(r"(?<!\S)\S")


def pack_context(messages, budget, *, count_tokens, reserved_for_reply=0, truncate=False):
    if not 0 <= reserved_for_reply <= budget:
        raise ValueError("reserved_for_reply must be between 0 and budget")
    msgs = list(messages)
    head = msgs[:1] if msgs and msgs[0]["role"] == "system" else []
    body = msgs[len(head):]
    room = budget - reserved_for_reply - sum(count_tokens(m["content"]) for m in head)
    if room < 0:
        raise ValueError("the system message does not fit")

    costs = [count_tokens(m["content"]) for m in body]
    users = [i for i, m in enumerate(body) if m["role"] == "user"]
    old = [i for i, m in enumerate(body) if m["role"] == "tool" and users and i < users[-1]]
    keep = set(range(len(body)))
    total = sum(costs)
    for i in old:  # oldest first, only while too big
        if total <= room:
            break
        keep.discard(i)
        total -= costs[i]
    if total <= room:
        return head + [body[i] for i in sorted(keep)]

    order = sorted(keep)  # every old tool result is gone
    from_newest = list(itertools.accumulate(costs[i] for i in reversed(order)))
    fit = sum(1 for s in from_newest if s <= room)
    out = [body[i] for i in order[len(order) - fit:]]
    if truncate and fit < len(order):
        left = room - (from_newest[fit - 1] if fit else 0)
        victim = body[order[len(order) - fit - 1]]
        for start in WORD_START.finditer(victim["content"]):
            text = TRUNCATION_MARKER + victim["content"][start.start():]
            if count_tokens(text) <= left:
                out.insert(0, dict(victim, content=text))
                break
    return head + out

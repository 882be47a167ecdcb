"""Packing a chat history into a model's context window: reference solution.

The system message always goes in; the rest of the window (`budget - reserved_for_reply`) is
filled from the newest message backwards, so the model sees the end of the conversation, and the
kept messages go out in their original order. Optionally the first message that does not fit is
cut from its start, at a word boundary, behind a marker that counts like any text. Old tool results
(before the last user message) are the first thing to go. This is what LangChain's
`trim_messages(strategy="last", include_system=True)` and most agent frameworks do before a call.

Notes
-----
- Complexity: O(k) calls of count_tokens for the k messages examined (the walk stops at the first
  message that does not fit), plus O(log w) calls on suffixes of one message of w words when
  truncating (binary search over word starts, valid because a suffix never costs more than a
  longer one). Memory O(k).
- Trade-offs: stopping at the first message that does not fit keeps the history contiguous; skipping
  it to squeeze in older, shorter messages fills the window better but shows the model a
  conversation with holes (an answer without its question). Counting each message separately
  ignores the few tokens of chat-template overhead per message; production code adds them, or
  counts the rendered prompt.
- Truncating from the start keeps the end of a long message, usually the part the next turn refers
  to; for a long tool result the head (a summary line, a JSON header) can matter more, and some
  systems keep head and tail around the marker.
- Follow-ups interviewers ask: summarise what is dropped instead of dropping it (a rolling summary
  message after the system prompt); keep an assistant tool call and its tool result together, or
  drop both (APIs reject a tool result whose call is gone); pin messages the user marked; cache
  token counts per message, since the history is re-packed on every turn; retrieval over the
  dropped history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

_Message = dict[str, str]  # {"role": ..., "content": ..., maybe other keys}
TRUNCATION_MARKER = "[truncated] "


def _word_starts(text: str) -> list[int]:
    """Indices where a word starts: a non-space character at the start or after a space."""
    return [
        i for i, ch in enumerate(text) if not ch.isspace() and (i == 0 or text[i - 1].isspace())
    ]


def _truncated(message: _Message, room: int, count_tokens: Callable[[str], int]) -> _Message | None:
    """`message` cut from its start at a word boundary, marker included, to the longest text that
    costs at most `room` tokens; None if not even one word fits."""
    text = message["content"]
    starts = _word_starts(text)
    lo, hi = 0, len(starts)  # invariant: starts[hi:] fit; find the first start that fits
    while lo < hi:
        mid = (lo + hi) // 2
        if count_tokens(TRUNCATION_MARKER + text[starts[mid] :]) <= room:
            hi = mid
        else:
            lo = mid + 1
    if lo == len(starts):
        return None
    return {**message, "content": TRUNCATION_MARKER + text[starts[lo] :]}


def _newest_that_fit(
    messages: Sequence[_Message],
    room: int,
    count_tokens: Callable[[str], int],
    truncate: bool,
) -> list[_Message]:
    """The longest run of `messages` ending at the newest that fits in `room` tokens, in order;
    with `truncate`, the next older message cut to fill what is left."""
    kept: list[_Message] = []
    for message in reversed(messages):
        cost = count_tokens(message["content"])
        if cost > room:
            if truncate:
                cut = _truncated(message, room, count_tokens)
                if cut is not None:
                    kept.append(cut)
            break
        kept.append(message)
        room -= cost
    kept.reverse()
    return kept


def pack_context(
    messages: Sequence[_Message],
    budget: int,
    *,
    count_tokens: Callable[[str], int],
    reserved_for_reply: int = 0,
    truncate: bool = False,
) -> list[_Message]:
    """The messages to send: the system message, then the newest messages that fit, in order."""
    if reserved_for_reply < 0 or reserved_for_reply > budget:
        raise ValueError(
            f"need 0 <= reserved_for_reply <= budget, got {reserved_for_reply}, {budget}"
        )
    room = budget - reserved_for_reply
    head: list[_Message] = []
    rest = list(messages)
    if rest and rest[0]["role"] == "system":
        head = [rest.pop(0)]
        room -= count_tokens(head[0]["content"])
        if room < 0:
            raise ValueError("the system message alone does not fit in budget - reserved_for_reply")

    # Tool results older than the last user message are dropped before anything else: oldest
    # first, whole, and only while the rest does not fit.
    last_user = max((i for i, m in enumerate(rest) if m["role"] == "user"), default=-1)
    old = [m["role"] == "tool" and i < last_user for i, m in enumerate(rest)]
    if any(old):
        costs = [count_tokens(m["content"]) for m in rest]
        spare = room - sum(cost for cost, is_old in zip(costs, old, strict=True) if not is_old)
        if spare >= 0:  # everything else fits: keep the newest old tool results that fit too
            kept_old: set[int] = set()
            for i in reversed([i for i, is_old in enumerate(old) if is_old]):
                if costs[i] > spare:
                    break
                kept_old.add(i)
                spare -= costs[i]
            return head + [m for i, m in enumerate(rest) if not old[i] or i in kept_old]
        rest = [m for m, is_old in zip(rest, old, strict=True) if not is_old]
    return head + _newest_that_fit(rest, room, count_tokens, truncate)

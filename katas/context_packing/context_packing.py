"""Packing a chat history into a context window. Read README.md beside this file for the rules; `kata run context_packing` grades you."""

from __future__ import annotations

from collections.abc import Callable, Sequence

TRUNCATION_MARKER = "[truncated] "  # level 2: put before the kept end of a truncated message


def pack_context(
    messages: Sequence[dict[str, str]],
    budget: int,
    *,
    count_tokens: Callable[[str], int],
    reserved_for_reply: int = 0,
    truncate: bool = False,
) -> list[dict[str, str]]:
    """The messages to send to the model, oldest first, costing at most budget - reserved_for_reply.

    messages: oldest first; messages[0] may have role "system" (the only system message). Every
    message is a dict with "role" and "content" (str); a message costs count_tokens(content).
    budget, reserved_for_reply: tokens (ints); raises ValueError unless 0 <= reserved_for_reply
    <= budget, and if the system message alone costs more than budget - reserved_for_reply.
    Returns a new list: the system message, then the newest messages that fit whole (a run ending
    at the newest: stop at the first that does not fit), in their original order. The input is
    never modified.

    Level 2: with truncate=True, the first message that does not fit is cut from its start at a
    word boundary to TRUNCATION_MARKER + the longest end of its content that fits (the marker
    counts); a copy with the new content, dropped if not one word fits.
    Level 3: tool results ("role": "tool") older than the last user message are dropped first,
    oldest first and whole, and only while the rest does not fit.
    """
    raise NotImplementedError("pack_context: level 1")

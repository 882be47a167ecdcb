"""Incremental JSON parser. Read README.md beside this file for the rules; `kata run json_stream` grades you."""

from __future__ import annotations

from typing import Any


class JSONStreamError(ValueError):
    """Malformed JSON. `offset`: the index, in everything fed so far (all chunks joined), of the first
    character that no JSON document could have there; the length of the whole input when it ends too
    soon. Keep this class as it is."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at offset {offset}")
        self.offset = offset


class JSONStreamParser:
    """One JSON document, fed in chunks: feed(chunk) any number of times, then result().

    Standard library only, and no JSON decoder: not json.loads / json.JSONDecoder, not eval.
    """

    def __init__(self) -> None:
        raise NotImplementedError("JSONStreamParser: level 1")

    def feed(self, chunk: str) -> None:
        """Consume the next piece of the text; a chunk may end anywhere (inside a string, an escape,
        a \\uXXXX, between the halves of a surrogate pair, inside a number or a literal) or be "".

        Level 3: raise JSONStreamError from the feed() whose chunk holds the first character that
        cannot be there; work proportional to len(chunk), not to everything fed so far.
        """
        raise NotImplementedError("feed: level 1")

    def result(self) -> Any:
        """End of input: the value json.loads would return for all the chunks joined.

        dict (key order of the text; a repeated key keeps its first place and its last value), list,
        str, int (no fraction, no exponent), float (float(text)), True, False, None. A top-level
        number ends only here. Raises JSONStreamError if the input is empty or ends too soon
        (level 3: offset = the length of the whole input).
        """
        raise NotImplementedError("result: level 1")

    def partial(self) -> Any:
        """Level 2: the value so far, as a new object: open strings, arrays and objects closed; an
        unfinished escape, number or literal left out; a key only once its value shows; None
        before the value starts (and while a top-level number or literal is unfinished).
        """
        raise NotImplementedError("partial: level 2")


class SSEDecoder:
    """Level 4: a server-sent-events stream whose events carry JSON in their data lines.

    retry: int | None, the last valid `retry:` value in milliseconds (None before one).
    done: bool, True once an event with data [DONE] arrived; everything after it is ignored.
    """

    retry: int | None
    done: bool

    def __init__(self) -> None:
        raise NotImplementedError("SSEDecoder: level 4")

    def feed(self, chunk: str) -> list[Any]:
        """The JSON values of the events this chunk completes (a blank line ends an event), in order.

        Lines end with \\n, \\r\\n or \\r. `data:` lines joined by \\n are the event's JSON; a line
        starting with ':' is a comment; `retry: <digits>` sets retry; other fields are ignored.
        """
        raise NotImplementedError("feed: level 4")

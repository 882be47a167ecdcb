"""Hidden suite for json_stream.

Documents are drawn as trees (numbers as grammar-built texts, strings as characters each with a
chosen spelling: raw, a short escape, `\\uXXXX` in either case, surrogate pairs for astral
characters; whitespace between any tokens) and written out by `Writer`, which records for every
position of the text the span of each node and what the grammar allows next. From that one drawing:

- level 1's oracle is `json.loads` on the joined text, as the statement says;
- level 2's oracle is `snapshot`, the statement's truncation rules applied to the tree at the number
  of characters fed (an unfinished number or literal left out, a key only with its value, ...);
- level 3 corrupts the text by inserting, at a random position, a character the grammar does not
  allow there, so the expected offset is that position by construction; a truncated text must
  raise from `result()` with its length, unless `json.loads` accepts it as it is;
- level 4's oracle is `event_stream`, the WHATWG event-stream rules transcribed over the whole
  text at once, with `json.loads` for each event's data.

While the attempt runs, `json.loads`, the `json` decoder's internals and `ast.literal_eval` are
traps (the statement forbids a JSON decoder); oracles run only after the attempt's calls are done.
"""

from __future__ import annotations

import ast
import copy
import itertools
import json
import json.decoder
import json.scanner
import math
import random
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kata_runner.testing import fail, origin_of, show

# ---------------------------------------------------------------------------------------------
# Rules, as the statement words them

RULE_NO_DECODER = (
    "rule: standard library only, and no JSON decoder (json.loads, json.JSONDecoder, "
    "ast.literal_eval): write the parser yourself"
)
RULE_VALUE = "rule: result() returns what json.loads returns for all the chunks joined"
RULE_CHUNKS = (
    "rule: a chunk may end anywhere (inside a string, an escape, a \\uXXXX, between the halves of a "
    "surrogate pair, inside a number or a literal) and may be empty"
)
RULE_TYPES = (
    "rule: the values are json.loads's: a number without fraction or exponent is an int, any other "
    "number float(text); objects keep the order of the text"
)
RULE_REPEATED_KEY = "rule: a repeated key keeps its first place and its last value"
RULE_ESCAPES = (
    'rule: escapes are \\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX; a high-surrogate escape followed '
    "by a low-surrogate escape is one character; a surrogate escape without its pair is kept as "
    "that lone code point"
)
RULE_END = (
    "rule: result() marks the end of the input: a number at the top level is complete only then"
)
RULE_INCOMPLETE = (
    "rule: result() on an input that is empty, only whitespace, or stops before the value is "
    "complete raises JSONStreamError"
)
RULE_CLOSED = "rule: partial() returns the value so far, open strings, arrays and objects closed"
RULE_ESCAPE_WAITS = "rule: an unfinished escape shows nothing yet; a high-surrogate escape waits for what follows it"
RULE_UNFINISHED = (
    "rule: an unfinished number or literal is left out (a number is finished by the character "
    "after it, a literal by its last letter)"
)
RULE_KEY = (
    "rule: a key shows only with its value, once the value has started (a string or a container) "
    "or is finished (a number or a literal)"
)
RULE_NONE = (
    "rule: before the value starts, partial() returns None, and so it does while a top-level "
    "number or literal is unfinished"
)
RULE_NEW_OBJECT = (
    "rule: each partial() call returns a new object: changing it, or feeding more, never changes "
    "a snapshot returned earlier"
)
RULE_NO_SIDE_EFFECT = "rule: partial() does not change the parser"
RULE_OFFSET = (
    "rule: malformed input raises JSONStreamError whose offset is the index, in the whole input, of "
    "the first character that no JSON document could have there"
)
RULE_EARLIEST = "rule: feed() raises as soon as its chunk holds that character"
RULE_TOO_SOON = (
    "rule: an input that ends too soon raises from result(), with offset = the length of the whole "
    "input"
)
RULE_RFC = (
    "rule: only RFC 8259 JSON is valid: NaN, Infinity, +1, .5, 01, 1., trailing commas, single "
    "quotes, comments, raw control characters in strings, unknown escapes and anything after the "
    "top-level value are errors"
)
RULE_LINEAR = (
    "rule: each feed() costs time in proportion to its chunk, not to everything fed so far, even "
    "inside one long string"
)
RULE_SSE_LINES = (
    "rule: lines end with \\n, \\r\\n or \\r, and a chunk may end anywhere, even between the \\r and the "
    "\\n of one line end (still one line end, not an empty line)"
)
RULE_SSE_EVENT = (
    "rule: a blank line ends an event: its data lines, joined with \\n, are one JSON document, "
    "returned by the feed that delivers the blank line's line end (for \\r\\n, the \\r)"
)
RULE_SSE_NO_DATA = (
    "rule: a blank line with no data line since the last event ends nothing and returns nothing"
)
RULE_SSE_FIELD = (
    "rule: the field is what comes before the first ':', the value what comes after it, with one "
    "leading space removed if there is one; a line without ':' is a field with an empty value"
)
RULE_SSE_COMMENT = "rule: a line starting with ':' is a comment and is ignored"
RULE_SSE_RETRY = (
    "rule: retry: N sets retry to the integer N if N is one or more ASCII digits, as soon as its "
    "line ends; any other value leaves retry unchanged"
)
RULE_SSE_OTHER = (
    "rule: every other field (event, id, unknown ones) is ignored; field names are case-sensitive"
)
RULE_SSE_DONE = (
    "rule: an event whose data is exactly [DONE] sets done = True and returns nothing; everything "
    "fed after it is ignored"
)
RULE_SSE_UNFINISHED = "rule: an event not yet ended by a blank line is never returned"
RULE_SSE_ERROR = (
    "rule: an event whose data is not one JSON document raises JSONStreamError with the offset "
    "counted within the event's data, at the latest from the feed that ends the event"
)
RULE_SSE_START = "rule: retry starts None and done starts False"

# ---------------------------------------------------------------------------------------------
# Running the attempt: with the JSON decoder trapped, observations recorded, oracles afterwards


class DecoderUsed(BaseException):
    """The attempt called a JSON decoder (a BaseException, so that no `except Exception` hides it)."""


def _trap(name: str) -> Any:
    def trap(*args: Any, **kwargs: Any) -> Any:
        raise DecoderUsed(name)

    return trap


TRAPPED = [
    (json, "loads", "json.loads"),
    (json.JSONDecoder, "decode", "json.JSONDecoder.decode"),
    (json.JSONDecoder, "raw_decode", "json.JSONDecoder.raw_decode"),
    (json.decoder, "scanstring", "json.decoder.scanstring"),
    (json.decoder, "py_scanstring", "json.decoder.py_scanstring"),
    (json.decoder, "JSONObject", "json.decoder.JSONObject"),
    (json.decoder, "JSONArray", "json.decoder.JSONArray"),
    (json.scanner, "make_scanner", "json.scanner.make_scanner"),
    (json.scanner, "py_make_scanner", "json.scanner.py_make_scanner"),
    (ast, "literal_eval", "ast.literal_eval"),
]


@contextmanager
def no_decoder(impl: Any) -> Iterator[None]:
    """Replace the JSON decoder (and the attempt's own aliases of its parts) by traps."""
    patches: list[tuple[Any, str, Any]] = []
    originals: dict[int, str] = {}
    for owner, name, spelled in TRAPPED:
        if hasattr(owner, name):
            originals[id(getattr(owner, name))] = spelled
            patches.append((owner, name, _trap(spelled)))
    for name, value in list(vars(impl).items()):
        if id(value) in originals:
            patches.append((impl, name, _trap(originals[id(value)])))
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)


@dataclass
class Observed:
    """What the attempt did with one input: where it raised, what it returned."""

    chunks: list[str]
    raised_at: int | None = None  # index of the feed that raised; len(chunks) = result()
    error: BaseException | None = None
    value: Any = None
    snapshots: list[Any] = field(default_factory=list)  # partial() after each feed, as returned
    copies: list[Any] = field(default_factory=list)  # deep copies of them, taken at once
    origins: list[int] = field(default_factory=list)  # the attempt's objects they were copied from

    @property
    def failed_with(self) -> str:
        if self.error is None:
            return f"returned {show(self.value)}"
        where = "result()" if self.raised_at == len(self.chunks) else f"feed #{self.raised_at + 1}"  # type: ignore[operator]
        offset = getattr(self.error, "offset", "<no offset attribute>")
        return f"{where} raised {type(self.error).__name__}({str(self.error)!r}), offset={offset!r}"


def drive(impl: Any, chunks: Sequence[str], *, partial: bool = False) -> Observed:
    """Feed the chunks (partial() after each if asked), then result(); the decoder is trapped."""
    obs = Observed(list(chunks))
    with no_decoder(impl):
        parser = impl.JSONStreamParser()
        for k, chunk in enumerate(chunks):
            try:
                parser.feed(chunk)
            except NotImplementedError:
                raise
            except Exception as exc:  # noqa: BLE001 - judged by the caller
                obs.raised_at, obs.error = k, exc
                return obs
            if partial:
                snap = parser.partial()
                obs.snapshots.append(snap)
                obs.copies.append(copy.deepcopy(snap))
                obs.origins.append(origin_of(impl, snap))
        try:
            obs.value = parser.result()
        except NotImplementedError:
            raise
        except Exception as exc:  # noqa: BLE001 - judged by the caller
            obs.raised_at, obs.error = len(chunks), exc
    return obs


def run(impl: Any, chunks: Sequence[str], *, partial: bool = False) -> Observed:
    """drive(), with a decoder trap turned into a failure naming the rule."""
    __tracebackhide__ = True
    try:
        return drive(impl, chunks, partial=partial)
    except DecoderUsed as used:
        fail(
            RULE_NO_DECODER,
            call=feeding(chunks),
            expected="a parser of your own",
            actual=f"your code called {used}",
            show_values=False,
        )
        raise AssertionError("unreachable") from None


def clip(text: str, limit: int = 160) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 20] + f"... ({len(text)} chars)"


def feeding(chunks: Sequence[str]) -> str:
    joined = "".join(chunks)
    if len(chunks) <= 12 and len(joined) <= 200:
        parts = ", ".join(repr(c) for c in chunks)
        return f"p = JSONStreamParser(); for chunk in [{parts}]: p.feed(chunk); p.result()"
    sizes = [len(c) for c in chunks]
    return (
        f"p = JSONStreamParser(); p.feed(...) {len(chunks)} chunks of {min(sizes)}-{max(sizes)} "
        f"characters, then p.result(); joined: {clip(joined)}"
    )


def one_by_one(text: str) -> list[str]:
    return list(text)


def split_at(text: str, cuts: Sequence[int]) -> list[str]:
    edges = [0, *sorted(cuts), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(edges)]


# ---------------------------------------------------------------------------------------------
# Comparing values exactly: bool, int and float apart, -0.0 and 0.0 apart, dict order kept


def same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return repr(a) == repr(b)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def difference(actual: Any, expected: Any, path: str = "") -> tuple[str, Any, Any]:
    """(path, actual part, expected part) at the first difference."""
    if (
        type(actual) is not type(expected)
        or isinstance(actual, str | int | float | bool)
        or actual is None
    ):
        return path or "the value", actual, expected
    if isinstance(expected, list):
        for i, (x, y) in enumerate(zip(actual, expected)):
            if not same(x, y):
                return difference(x, y, f"{path}[{i}]")
        return (path or "the value") + " (length)", actual, expected
    if list(actual) != list(expected):
        return (path or "the value") + " (keys, in order)", list(actual), list(expected)
    for k in expected:
        if not same(actual[k], expected[k]):
            return difference(actual[k], expected[k], f"{path}[{k!r}]")
    return path or "the value", actual, expected


def value_rule(expected_part: Any, actual_part: Any) -> str:
    if isinstance(expected_part, str):
        return RULE_ESCAPES
    if isinstance(expected_part, int | float) and not isinstance(expected_part, bool):
        return RULE_TYPES
    if (isinstance(expected_part, list) and isinstance(actual_part, dict)) or (
        isinstance(expected_part, dict) and isinstance(actual_part, list)
    ):
        return RULE_TYPES
    return RULE_VALUE


def check_value(impl: Any, chunks: Sequence[str], *, rule: str | None = None) -> None:
    """result() after feeding the chunks must be json.loads of the joined text."""
    __tracebackhide__ = True
    obs = run(impl, chunks)
    text = "".join(chunks)
    expected = json.loads(text)
    if obs.error is None and same(obs.value, expected):
        return
    whole_ok = False
    if len(chunks) > 1:  # does the same text parse when fed in one chunk?
        whole = run(impl, [text])
        whole_ok = whole.error is None and same(whole.value, expected)
    if obs.error is not None:
        headline = RULE_CHUNKS if whole_ok else (rule or RULE_VALUE)
        fail(
            headline,
            call=feeding(chunks),
            expected=f"returns {show(expected)}",
            actual=obs.failed_with,
            show_values=False,
            detail="fed as one chunk, it parses" if whole_ok else None,
        )
    path, got, want = difference(obs.value, expected)
    headline = RULE_CHUNKS if whole_ok else (rule or value_rule(want, got))
    fail(
        headline,
        call=feeding(chunks),
        expected=expected,
        actual=obs.value,
        detail=f"first difference at {path}: expected {show(want)} ({type(want).__name__}), "
        f"got {show(got)} ({type(got).__name__})"
        + ("\nfed as one chunk, it parses" if whole_ok else ""),
    )


# ---------------------------------------------------------------------------------------------
# Documents: trees, written out with the grammar's expectations at every position

WS_CHARS = " \t\n\r"
VALUE_START = '{["-0123456789tfn'
DIGITS = "0123456789"
HEX = "0123456789abcdefABCDEF"
SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "/": "\\/",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


@dataclass(frozen=True)
class Num:
    text: str


@dataclass(frozen=True)
class Lit:
    text: str  # true, false or null


@dataclass(frozen=True)
class Str:
    pieces: tuple[tuple[str, str], ...]  # (character(s), its spelling in the text)


@dataclass(frozen=True)
class Arr:
    items: tuple[tuple[str, Any, str], ...]  # (whitespace before, node, whitespace after)
    inner: str = ""  # whitespace of an empty array


@dataclass(frozen=True)
class Obj:
    members: tuple[tuple[str, Str, str, str, Any, str], ...]  # ws, key, ws, ws, value, ws
    inner: str = ""


@dataclass(frozen=True)
class Doc:
    lead: str
    root: Any
    trail: str


@dataclass
class Placed:
    """A node written at [start, end) of the text, with its parts placed too."""

    node: Any
    start: int
    end: int = 0
    parts: list[Any] = field(default_factory=list)  # Placed children; (key, Placed) for objects
    ends: list[int] = field(default_factory=list)  # strings: where each piece's spelling ends


def number_state(text: str) -> str:
    """What the characters so far of a number are (minus, zero, int, dot, frac, e, esign, exp)."""
    if re.fullmatch(r"-", text):
        return "minus"
    if re.fullmatch(r"-?0", text):
        return "zero"
    if re.fullmatch(r"-?[1-9][0-9]*", text):
        return "int"
    if re.fullmatch(r"-?(0|[1-9][0-9]*)\.", text):
        return "dot"
    if re.fullmatch(r"-?(0|[1-9][0-9]*)\.[0-9]+", text):
        return "frac"
    if re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?[eE]", text):
        return "e"
    if re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?[eE][+-]", text):
        return "esign"
    return "exp"


def allowed(state: tuple[Any, ...], ch: str) -> bool:
    """Whether the grammar allows `ch` where the text is in `state`."""
    kind = state[0]
    if kind == "value":
        return ch in WS_CHARS or ch in VALUE_START
    if kind == "value_or_close":
        return ch in WS_CHARS or ch in VALUE_START or ch == "]"
    if kind == "key_or_close":
        return ch in WS_CHARS or ch in '"}'
    if kind == "key":
        return ch in WS_CHARS or ch == '"'
    if kind == "colon":
        return ch in WS_CHARS or ch == ":"
    if kind == "after":
        return ch in WS_CHARS or ch in {"arr": ",]", "obj": ",}"}[state[1]]
    if kind == "end":
        return ch in WS_CHARS
    if kind == "str":
        return ord(ch) >= 0x20
    if kind == "esc":
        return ch in '"\\/bfnrtu'
    if kind == "hex":
        return ch in HEX
    if kind == "lit":
        return ch == state[1]
    num, ctx = state[1], state[2]
    followers = WS_CHARS + {"arr": ",]", "obj": ",}", "top": ""}[ctx]
    return {
        "minus": ch in DIGITS,
        "zero": ch in ".eE" or ch in followers,
        "int": ch in DIGITS or ch in ".eE" or ch in followers,
        "dot": ch in DIGITS,
        "frac": ch in DIGITS or ch in "eE" or ch in followers,
        "e": ch in DIGITS or ch in "+-",
        "esign": ch in DIGITS,
        "exp": ch in DIGITS or ch in followers,
    }[num]


class Writer:
    """Writes a Doc and records, for every position, what the grammar allows there."""

    def __init__(self) -> None:
        self.chars: list[str] = []
        self.states: list[tuple[Any, ...]] = []  # the state before each character
        self.state: tuple[Any, ...] = ("value", "top")

    def put(self, ch: str, after: tuple[Any, ...]) -> None:
        self.states.append(self.state)
        self.chars.append(ch)
        self.state = after

    def ws(self, text: str) -> None:
        for ch in text:
            kind = self.state[0]
            if kind == "num":
                after: tuple[Any, ...] = (
                    ("end",) if self.state[2] == "top" else ("after", self.state[2])
                )
            else:
                after = self.state
            self.put(ch, after)

    @staticmethod
    def after_value(ctx: str) -> tuple[Any, ...]:
        return ("end",) if ctx == "top" else ("after", ctx)

    def node(self, node: Any, ctx: str) -> Placed:
        placed = Placed(node, len(self.chars))
        if isinstance(node, Num):
            for k, ch in enumerate(node.text):
                self.put(ch, ("num", number_state(node.text[: k + 1]), ctx))
        elif isinstance(node, Lit):
            for k, ch in enumerate(node.text):
                last = k == len(node.text) - 1
                self.put(ch, self.after_value(ctx) if last else ("lit", node.text[k + 1], ctx))
        elif isinstance(node, Str):
            self.string(node, placed, self.after_value(ctx))
        elif isinstance(node, Arr):
            self.put("[", ("value_or_close",))
            if not node.items:
                self.ws(node.inner)
            for k, (before, child, after) in enumerate(node.items):
                self.ws(before)
                placed.parts.append(self.node(child, "arr"))
                self.ws(after)
                if k < len(node.items) - 1:
                    self.put(",", ("value", "arr"))
            self.put("]", self.after_value(ctx))
        else:
            self.put("{", ("key_or_close",))
            if not node.members:
                self.ws(node.inner)
            for k, (w1, key, w2, w3, value, w4) in enumerate(node.members):
                self.ws(w1)
                self.string(key, Placed(key, len(self.chars)), ("colon",))
                self.ws(w2)
                self.put(":", ("value", "obj"))
                self.ws(w3)
                placed.parts.append((decoded(key), self.node(value, "obj")))
                self.ws(w4)
                if k < len(node.members) - 1:
                    self.put(",", ("key",))
            self.put("}", self.after_value(ctx))
        placed.end = len(self.chars)
        return placed

    def string(self, node: Str, placed: Placed, after: tuple[Any, ...]) -> None:
        self.put('"', ("str",))
        for _, spelling in node.pieces:
            state = ("str",)
            for ch in spelling:
                if state[0] == "str" and ch == "\\":
                    state = ("esc",)
                elif state[0] == "esc":
                    state = ("hex", 1) if ch == "u" else ("str",)
                elif state[0] == "hex":
                    state = ("hex", state[1] + 1) if state[1] < 4 else ("str",)
                self.put(ch, state)
            placed.ends.append(len(self.chars))
        self.put('"', after)


def decoded(node: Str) -> str:
    return "".join(ch for ch, _ in node.pieces)


@dataclass
class Written:
    text: str
    root: Placed
    states: list[tuple[Any, ...]]  # len(text) + 1 entries: the state before each position


def write(doc: Doc) -> Written:
    w = Writer()
    w.ws(doc.lead)
    root = w.node(doc.root, "top")
    w.ws(doc.trail)
    return Written("".join(w.chars), root, [*w.states, w.state])


def number_value(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eE") else int(text)


def shown(placed: Placed, fed: int) -> bool:
    """Whether a value shows in a snapshot after `fed` characters (the statement's level 2 rules)."""
    if isinstance(placed.node, Num):
        return fed > placed.end  # finished by the character after it
    if isinstance(placed.node, Lit):
        return fed >= placed.end  # finished by its last letter
    return fed > placed.start  # a string or a container shows once started


def snapshot_of(placed: Placed, fed: int) -> Any:
    node = placed.node
    if isinstance(node, Num):
        return number_value(node.text)
    if isinstance(node, Lit):
        return {"true": True, "false": False, "null": None}[node.text]
    if isinstance(node, Str):
        return "".join(ch for (ch, _), end in zip(node.pieces, placed.ends) if end <= fed)
    if isinstance(node, Arr):
        return [snapshot_of(p, fed) for p in placed.parts if shown(p, fed)]
    return {k: snapshot_of(p, fed) for k, p in placed.parts if shown(p, fed)}


def snapshot(written: Written, fed: int) -> Any:
    """The expected partial() after the first `fed` characters."""
    return snapshot_of(written.root, fed) if shown(written.root, fed) else None


# ---- strategies

whitespace = st.sampled_from(["", "", "", "", " ", "  ", "\n", "\t", "\r\n  ", " \r"])


# Numbers and string characters come from pools built once from a seeded random.Random: a draw is
# one choice, which keeps generation cheap (the whole suite runs in a few seconds) and shrinks well.


def number_pool(size: int = 300) -> list[str]:
    """Number texts of every shape the grammar allows, simplest first."""
    rnd = random.Random("json_stream numbers")
    texts = ["0", "-0", "1", "-1", "10", "0.5", "-0.0", "1e3", "1E-2", "2.5e+10", "1e400", "-1e400"]
    texts += ["123456789012345678901234567890", "-98765432109876543210", "4.9e-324"]
    for _ in range(size):
        integer = rnd.choice(["0", str(rnd.randint(1, 9)), str(rnd.randint(10, 99999))])
        frac = rnd.choice(["", "", "." + "".join(rnd.choices(DIGITS, k=rnd.randint(1, 3)))])
        exp = rnd.choice(
            ["", "", rnd.choice("eE") + rnd.choice(["", "+", "-"]) + str(rnd.randint(0, 400))]
        )
        texts.append(rnd.choice(["", "", "-"]) + integer + frac + exp)
    return list(dict.fromkeys(texts))


SPECIAL_CHARS = [
    '"',
    "\\",
    "/",
    "\n",
    "\t",
    "\b",
    "\f",
    "\r",
    "\x00",
    "\x1f",
    "\x7f",
    "é",
    "😀",
    "日",
    " ",
    "\u2028",
    "\U0001d11e",
]


def spellings(ch: str) -> list[str]:
    """Every way the grammar lets a string spell `ch`."""
    out = []
    if ch not in '"\\' and ord(ch) >= 0x20:
        out.append(ch)
    if ch in SHORT_ESCAPES:
        out.append(SHORT_ESCAPES[ch])
    code = ord(ch)
    if code > 0xFFFF:
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        out += [f"\\u{high:04x}\\u{low:04x}", f"\\u{high:04X}\\u{low:04X}"]
    else:
        out += [f"\\u{code:04x}", f"\\u{code:04X}"]
    return out


def piece_pool(size: int = 60) -> list[tuple[str, str]]:
    """(character, spelling) pairs: plain letters first, then specials and random code points."""
    rnd = random.Random("json_stream characters")
    chars = list("abcxyz AZ09") + SPECIAL_CHARS
    for _ in range(size):
        low, high = rnd.choice([(0x20, 0x7E), (0xA0, 0x2FF), (0x370, 0xFFFD), (0x10000, 0x10FFFF)])
        code = rnd.randint(low, high)
        if not 0xD800 <= code <= 0xDFFF:
            chars.append(chr(code))
    pieces = []
    for ch in dict.fromkeys(chars):
        spelled = spellings(ch)
        pieces.append((ch, spelled[0]))
        pieces.extend(
            (ch, other) for other in spelled[1:] if rnd.random() < 0.5 or ch in SPECIAL_CHARS
        )
    return pieces


NUMBERS = number_pool()
PIECES = piece_pool()
# Indexes into the pools, not sampled_from(pool): a strategy's repr would print the whole pool.
number_texts = st.integers(0, len(NUMBERS) - 1).map(lambda i: Num(NUMBERS[i]))
string_nodes = st.lists(st.integers(0, len(PIECES) - 1), max_size=6).map(
    lambda indexes: Str(tuple(PIECES[i] for i in indexes))
)

leaves = st.one_of(
    number_texts,
    string_nodes,
    st.sampled_from([Lit("true"), Lit("false"), Lit("null")]),
)


def containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    items = st.lists(st.tuples(whitespace, children, whitespace), max_size=4)
    members = st.lists(
        st.tuples(whitespace, string_nodes, whitespace, whitespace, children, whitespace),
        max_size=4,
        unique_by=lambda m: decoded(m[1]),
    )
    return st.builds(Arr, items.map(tuple), whitespace) | st.builds(
        Obj, members.map(tuple), whitespace
    )


documents = st.builds(Doc, whitespace, st.recursive(leaves, containers, max_leaves=10), whitespace)


@st.composite
def chunkings(draw: st.DrawFn, text: str) -> list[str]:
    """The text cut anywhere: at random points (empty chunks included), or one character at a time."""
    if draw(st.integers(0, 5)) == 0:
        return one_by_one(text)
    cuts = draw(st.lists(st.integers(0, len(text)), max_size=8))
    return split_at(text, cuts)


# ---------------------------------------------------------------------------------------------
# Level 1: one document, any chunks

README_CHUNKS = [
    '{"city": "Os',
    'lo", "temps": [9, -1',
    '.5e1], "emoji": "\\ud83d',
    '\\ude00", "ok": tr',
    "ue}",
]

VALUE_CASES = {
    "readme": (README_CHUNKS, RULE_VALUE),
    "scalars": (
        ['[0, -0, 7, -12, 1.5, -0.0, 2e3, 1E-2, 1.0e+2, 0.5e-1, true, false, null, ""]'],
        RULE_TYPES,
    ),
    "big-numbers": (
        ["[123456789012345678901234567890, -98765432109876543210, 1e400, -1e400, 1e-400]"],
        RULE_TYPES,
    ),
    "nested": (['{"a": {"b": [[], {}, [[1]], {"c": {"d": null}}]}, "e": []}'], RULE_VALUE),
    "key-order": (['{"z": 1, "a": 2, "m": {"y": 0, "b": 1}}'], RULE_TYPES),
    "repeated-key": (['{"a": 1, "b": 2, "a": 3}'], RULE_REPEATED_KEY),
    "repeated-key-container": (['{"a": [1], "b": 2, "a": {"x": 1}}'], RULE_REPEATED_KEY),
    "short-escapes": (['"\\" \\\\ \\/ \\b \\f \\n \\r \\t"'], RULE_ESCAPES),
    "unicode-escapes": (['["\\u00e9\\u00E9\\u0041\\u20ac", "\\u0000\\u001f"]'], RULE_ESCAPES),
    "surrogate-pair": (['["\\ud83d\\ude00", "\\uD83D\\uDE00x", "a\\ud834\\udd1eb"]'], RULE_ESCAPES),
    "lone-surrogates": (
        [
            '["\\ud800", "\\udc00", "\\ud83d\\u0041", "\\ud83d\\ud83d\\ude00", "\\ud800x", "\\ud800\\n"]'
        ],
        RULE_ESCAPES,
    ),
    "raw-unicode": (['["é日😀", "\u2028\x7f"]'], RULE_VALUE),
    "whitespace": ([' \t\n\r{ "a" :\t[ 1 ,\r\n2 ] , "b":{ } }\n '], RULE_VALUE),
    "top-level-string": (['"just a string"'], RULE_VALUE),
    "top-level-literal": (["  null "], RULE_VALUE),
}


@pytest.mark.level(1)
@pytest.mark.parametrize("case", sorted(VALUE_CASES))
@pytest.mark.parametrize("how", ["as-given", "one-char"])
def test_result_is_what_json_loads_gives(impl, case, how):
    chunks, rule = VALUE_CASES[case]
    text = "".join(chunks)
    if how == "one-char":
        chunks = one_by_one(text)
    check_value(impl, chunks, rule=rule if how == "as-given" else None)


@pytest.mark.level(1)
def test_every_split_into_two_chunks_parses(impl):
    text = '{"k\\u00e9y": [-1.5e+2, "\\ud83d\\ude00\\"", true, null], "": 0}'
    for cut in range(len(text) + 1):
        check_value(impl, [text[:cut], text[cut:]])


@pytest.mark.level(1)
def test_empty_chunks_change_nothing(impl):
    check_value(impl, ["", "[1", "", "", ", 2]", ""])


@pytest.mark.level(1)
@pytest.mark.parametrize(
    "chunks", [["12"], ["1", "2", "3"], ["  7", "  "], ["-0"], ["1.5", "e3"]], ids=repr
)
def test_a_top_level_number_ends_at_result(impl, chunks):
    check_value(impl, chunks, rule=RULE_END)


@pytest.mark.level(1)
@pytest.mark.parametrize(
    "text", ["", "   ", "[1", '"ab', "tru", "-", '{"a":', "[1, 2", "1.", '{"a"'], ids=repr
)
def test_result_on_an_incomplete_input_raises(impl, text):
    obs = run(impl, [text] if text else [])
    if not isinstance(obs.error, impl.JSONStreamError) or obs.raised_at != len(obs.chunks):
        fail(
            RULE_INCOMPLETE,
            call=feeding(obs.chunks),
            expected="result() raises JSONStreamError",
            actual=obs.failed_with,
            show_values=False,
        )


@pytest.mark.level(1)
@settings(max_examples=50)
@given(data=st.data(), doc=documents)
def test_any_document_in_any_chunks_parses_as_json_loads(impl, data, doc):
    text = write(doc).text
    check_value(impl, data.draw(chunkings(text), label="chunks"))


# ---------------------------------------------------------------------------------------------
# Level 2: a snapshot after every chunk


def check_partials(
    impl: Any, chunks: Sequence[str], expected: Sequence[Any], *, rule: str | Callable[[int], str]
) -> Observed:
    """partial() after each chunk must equal expected[k], and the run must still parse."""
    __tracebackhide__ = True
    obs = run(impl, chunks, partial=True)
    text = "".join(chunks)
    fed = 0
    for k, (chunk, want) in enumerate(zip(chunks, expected)):
        fed += len(chunk)
        if obs.error is not None and obs.raised_at is not None and obs.raised_at <= k:
            fail(
                rule if isinstance(rule, str) else rule(k),
                call=feeding(chunks) + " (partial() after every feed)",
                expected=f"partial() after feed #{k + 1} is {show(want)}",
                actual=obs.failed_with,
                show_values=False,
            )
        got = obs.copies[k]
        if not same(got, want):
            path, part, wanted = difference(got, want)
            fail(
                rule if isinstance(rule, str) else rule(k),
                call=feeding(chunks) + " (partial() after every feed)",
                expected=f"after {fed} characters, {clip(text[:fed])}: partial() is {show(want)}",
                actual=f"{show(got)}",
                show_values=False,
                detail=f"first difference at {path}: expected {show(wanted)}, got {show(part)}",
            )
    return obs


PARTIAL_CASES = {
    # prefix fed, then partial(): (expected, rule)
    "": (None, RULE_NONE),
    "  \n": (None, RULE_NONE),
    "[": ([], RULE_CLOSED),
    "{": ({}, RULE_CLOSED),
    "[[": ([[]], RULE_CLOSED),
    '"': ("", RULE_CLOSED),
    '["ab': (["ab"], RULE_CLOSED),
    '{"a": [1, {"b": "c': ({"a": [1, {"b": "c"}]}, RULE_CLOSED),
    '[1, "x", [2, [3': ([1, "x", [2, []]], RULE_UNFINISHED),
    '"ab\\': ("ab", RULE_ESCAPE_WAITS),
    '"ab\\u00': ("ab", RULE_ESCAPE_WAITS),
    '"ab\\u00e9': ("abé", RULE_ESCAPE_WAITS),
    '"\\ud83d': ("", RULE_ESCAPE_WAITS),
    '"\\ud83d\\': ("", RULE_ESCAPE_WAITS),
    '"\\ud83d\\ude0': ("", RULE_ESCAPE_WAITS),
    '"\\ud83d\\u004': ("", RULE_ESCAPE_WAITS),
    '"\\ud83d\\ude00': ("😀", RULE_ESCAPE_WAITS),
    '"\\ud83dx': ("\ud83dx", RULE_ESCAPE_WAITS),
    '"\\ud83d\\n': ("\ud83d\n", RULE_ESCAPE_WAITS),
    '"\\ud83d\\u0041': ("\ud83dA", RULE_ESCAPE_WAITS),
    '["\\ud83d"': (["\ud83d"], RULE_ESCAPE_WAITS),
    "[12": ([], RULE_UNFINISHED),
    "[12,": ([12], RULE_UNFINISHED),
    "[12 ": ([12], RULE_UNFINISHED),
    "[12]": ([12], RULE_UNFINISHED),
    "[-": ([], RULE_UNFINISHED),
    "[1.5e": ([], RULE_UNFINISHED),
    "[tru": ([], RULE_UNFINISHED),
    "[true": ([True], RULE_UNFINISHED),
    "[null, fals": ([None], RULE_UNFINISHED),
    '{"a': ({}, RULE_KEY),
    '{"a"': ({}, RULE_KEY),
    '{"a": ': ({}, RULE_KEY),
    '{"a": 1': ({}, RULE_KEY),
    '{"a": 1 ': ({"a": 1}, RULE_KEY),
    '{"a": t': ({}, RULE_KEY),
    '{"a": null': ({"a": None}, RULE_KEY),
    '{"a": "': ({"a": ""}, RULE_KEY),
    '{"a": [': ({"a": []}, RULE_KEY),
    '{"a": {"b': ({"a": {}}, RULE_KEY),
    '{"a": 1, "b": 2, "c': ({"a": 1, "b": 2}, RULE_KEY),
    "12": (None, RULE_NONE),
    "12 ": (12, RULE_NONE),
    "-": (None, RULE_NONE),
    "tru": (None, RULE_NONE),
    "true": (True, RULE_NONE),
    "nul": (None, RULE_NONE),
}


@pytest.mark.level(2)
@pytest.mark.parametrize("prefix", sorted(PARTIAL_CASES), ids=repr)
def test_partial_closes_what_is_open_and_leaves_out_what_is_unfinished(impl, prefix):
    want, rule = PARTIAL_CASES[prefix]
    obs = run(impl, [prefix] if prefix else [""], partial=True)
    if obs.error is not None and obs.raised_at == 0:
        fail(
            rule,
            call=f"p = JSONStreamParser(); p.feed({prefix!r}); p.partial()",
            expected=show(want),
            actual=obs.failed_with,
            show_values=False,
        )
    got = obs.copies[0]
    if not same(got, want):
        fail(
            rule,
            call=f"p = JSONStreamParser(); p.feed({prefix!r}); p.partial()",
            expected=want,
            actual=got,
        )
    # the same prefix, one character at a time: the snapshot after the last feed is the same
    if len(prefix) > 1:
        obs = run(impl, one_by_one(prefix), partial=True)
        if obs.raised_at in (None, len(obs.chunks)) and not same(obs.copies[-1], want):
            fail(
                RULE_CHUNKS,
                call=f"p.feed(c) for each character c of {prefix!r}; p.partial()",
                expected=want,
                actual=obs.copies[-1],
            )


@pytest.mark.level(2)
def test_readme_snapshots(impl):
    expected = [
        {"city": "Os"},
        {"city": "Oslo", "temps": [9]},
        {"city": "Oslo", "temps": [9, -15.0], "emoji": ""},
        {"city": "Oslo", "temps": [9, -15.0], "emoji": "😀"},
        {"city": "Oslo", "temps": [9, -15.0], "emoji": "😀", "ok": True},
    ]
    obs = check_partials(impl, README_CHUNKS, expected, rule=RULE_CLOSED)
    if obs.error is not None or not same(obs.value, json.loads("".join(README_CHUNKS))):
        fail(
            RULE_NO_SIDE_EFFECT,
            call=feeding(README_CHUNKS) + " (partial() after every feed)",
            expected=json.loads("".join(README_CHUNKS)),
            actual=obs.value if obs.error is None else obs.failed_with,
        )


@pytest.mark.level(2)
def test_snapshots_are_new_objects(impl):
    chunks = ['{"a": [1, {"b": "x', '"}]', ', "c": [2', "]}"]
    obs = run(impl, chunks, partial=True)
    if obs.error is not None:
        fail(
            RULE_VALUE,
            call=feeding(chunks),
            expected="no error",
            actual=obs.failed_with,
            show_values=False,
        )
    for k, origin in enumerate(obs.origins):
        if k and origin == obs.origins[k - 1] and isinstance(obs.snapshots[k], (list, dict)):
            fail(
                RULE_NEW_OBJECT,
                call=feeding(chunks) + " (partial() after every feed)",
                expected=f"the snapshot of feed #{k} stays {show(obs.copies[k - 1])}",
                actual=f"partial() after feed #{k + 1} returned the very object it returned "
                f"after feed #{k}, which now holds {show(obs.copies[k])}",
                show_values=False,
            )
    for k, (snap, kept) in enumerate(zip(obs.snapshots, obs.copies)):
        if not same(snap, kept):
            fail(
                RULE_NEW_OBJECT,
                call=feeding(chunks) + " (partial() after every feed)",
                expected=f"the snapshot of feed #{k + 1} stays {show(kept)}",
                actual=f"it changed to {show(snap)} as more was fed",
                show_values=False,
            )
    # a caller that edits a snapshot must not change the parser
    with no_decoder(impl):
        p = impl.JSONStreamParser()
        p.feed('{"a": [1, {"b": "x"}')
        first = p.partial()
        if isinstance(first, dict):
            first["zzz"] = "edited"
            if isinstance(first.get("a"), list):
                first["a"].append("edited")
                if len(first["a"]) > 1 and isinstance(first["a"][1], dict):
                    first["a"][1]["b"] = "edited"
        second = p.partial()
        p.feed("]}")
        value = p.result()
    want = {"a": [1, {"b": "x"}]}
    if not same(second, want) or not same(value, want):
        fail(
            RULE_NEW_OBJECT,
            call='p.feed(\'{"a": [1, {"b": "x"}\'); s = p.partial(); (s edited); p.partial(); p.feed(\']}\'); p.result()',
            expected=f"{show(want)} both times",
            actual=f"partial() {show(second)}, result() {show(value)}",
            show_values=False,
        )


@pytest.mark.level(2)
@settings(max_examples=50)
@given(data=st.data(), doc=documents)
def test_partial_after_every_chunk_matches_the_truncation_rules(impl, data, doc):
    written = write(doc)
    chunks = data.draw(chunkings(written.text), label="chunks")
    ends = [sum(map(len, chunks[: k + 1])) for k in range(len(chunks))]
    expected = [snapshot(written, end) for end in ends]
    obs = check_partials(impl, chunks, expected, rule=lambda k: partial_rule(written, ends[k]))
    if obs.error is not None or not same(obs.value, json.loads(written.text)):
        fail(
            RULE_NO_SIDE_EFFECT,
            call=feeding(chunks) + " (partial() after every feed)",
            expected=json.loads(written.text),
            actual=obs.value if obs.error is None else obs.failed_with,
        )


HELD_HIGH = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}(\\(u[0-9a-fA-F]{0,3})?)?$")


def partial_rule(written: Written, fed: int) -> str:
    """The rule that decides the snapshot after `fed` characters: what is open at that point."""
    state = written.states[fed]
    kind = state[0]
    if kind in ("esc", "hex") or (kind == "str" and HELD_HIGH.search(written.text[:fed])):
        return RULE_ESCAPE_WAITS
    if kind in ("num", "lit"):
        return RULE_NONE if state[-1] == "top" else RULE_UNFINISHED
    if kind in ("colon", "key", "key_or_close") or state == ("value", "obj"):
        return RULE_KEY
    if state == ("value", "top"):
        return RULE_NONE
    return RULE_CLOSED


# ---------------------------------------------------------------------------------------------
# Level 3: errors, at once


@dataclass(frozen=True)
class Bad:
    chunks: tuple[str, ...]
    offset: int
    by_result: bool = False
    rule: str = RULE_OFFSET


def bad(text: str, offset: int, rule: str = RULE_OFFSET, *, by_result: bool = False) -> Bad:
    return Bad((text,), offset, by_result, rule)


ERROR_CASES = {
    "readme-trailing-comma": bad("[1, 2,]", 6, RULE_RFC),
    "readme-missing-colon": bad('{"a" 1}', 5),
    "readme-leading-zero": bad("[01]", 2, RULE_RFC),
    "readme-minus-infinity": bad("-Infinity", 1, RULE_RFC),
    "readme-raw-tab": bad('"tab:\t"', 5, RULE_RFC),
    "readme-bad-escape": bad('"\\x41"', 2, RULE_RFC),
    "readme-after-the-value": bad('{"a": 1} x', 9, RULE_RFC),
    "readme-ends-too-soon": bad('{"a": [1, 2', 11, RULE_TOO_SOON, by_result=True),
    "readme-only-whitespace": bad("  ", 2, RULE_TOO_SOON, by_result=True),
    "empty": Bad((), 0, True, RULE_TOO_SOON),
    "nan": bad("NaN", 0, RULE_RFC),
    "infinity-in-array": bad("[Infinity]", 1, RULE_RFC),
    "plus": bad("+1", 0, RULE_RFC),
    "dot-first": bad(".5", 0, RULE_RFC),
    "dot-last": bad("[1.]", 3, RULE_RFC),
    "exponent-without-digits": bad("[1e]", 3, RULE_RFC),
    "minus-alone": bad("[-]", 2, RULE_RFC),
    "leading-zero-top": bad("01", 1, RULE_RFC),
    "negative-leading-zero": bad("-012", 2, RULE_RFC),
    "single-quotes": bad("{'a': 1}", 1, RULE_RFC),
    "comment": bad("// note\n1", 0, RULE_RFC),
    "trailing-comma-object": bad('{"a": 1,}', 8, RULE_RFC),
    "double-comma": bad("[1,,2]", 3, RULE_RFC),
    "missing-comma": bad("[1 2]", 3),
    "missing-comma-object": bad('{"a": 1 "b": 2}', 8),
    "colon-in-array": bad("[1: 2]", 2),
    "key-not-string": bad("{1: 2}", 1),
    "raw-newline": bad('["a\nb"]', 3, RULE_RFC),
    "raw-nul": bad('"\x00"', 1, RULE_RFC),
    "bad-hex": bad('"\\u12G4"', 5, RULE_RFC),
    "literal-typo": bad("[trUe]", 3),
    "literal-case": bad("True", 0),
    "two-values": bad("1 2", 2, RULE_RFC),
    "two-objects": bad("{}{}", 2, RULE_RFC),
    "number-then-letter": bad("12x", 2),
    "close-mismatch": bad("[1}", 2),
    "unterminated-string": bad('"abc', 4, RULE_TOO_SOON, by_result=True),
    "unterminated-literal": bad("tru", 3, RULE_TOO_SOON, by_result=True),
    "unterminated-number": bad("1e+", 3, RULE_TOO_SOON, by_result=True),
    "unterminated-key": bad('{"a":', 5, RULE_TOO_SOON, by_result=True),
    "form-feed-is-not-whitespace": bad("[1,\f2]", 3, RULE_RFC),
    "no-break-space-is-not-whitespace": bad("[\xa01]", 1, RULE_RFC),
    "arabic-digit": bad("[\u0661]", 1, RULE_RFC),
    "superscript-digit": bad("[1\u00b2]", 2, RULE_RFC),
    "hex-with-sign": bad('"\\u+12a"', 3, RULE_RFC),
    "hex-with-space": bad('"\\u 12a"', 3, RULE_RFC),
    "hex-with-underscore": bad('"\\u1_2a"', 4, RULE_RFC),
    "chunked-readme": Bad(("[1,", " 2", ",]"), 6, False, RULE_EARLIEST),
    "chunked-late-letter": Bad(('{"a": [tr', "u", "x"), 10, False, RULE_EARLIEST),
    "chunked-number": Bad(("[0", "0]"), 2, False, RULE_EARLIEST),
    "chunked-escape": Bad(('"ab\\', "q", '"'), 4, False, RULE_EARLIEST),
    "chunked-after-value": Bad(("[1]", " ", " ", "]"), 5, False, RULE_EARLIEST),
}


def check_error(
    impl: Any, chunks: Sequence[str], offset: int, *, by_result: bool, rule: str
) -> None:
    __tracebackhide__ = True
    obs = run(impl, chunks)
    sizes = [len(c) for c in chunks]
    which = (
        len(chunks)
        if by_result
        else next(k for k in range(len(chunks)) if sum(sizes[: k + 1]) > offset)
    )
    where = "result()" if which == len(chunks) else f"feed #{which + 1}"
    want = f"{where} raises JSONStreamError with offset={offset}"
    if offset < len("".join(chunks)):
        want += f" (the {''.join(chunks)[offset]!r})"
    if obs.error is None or not isinstance(obs.error, impl.JSONStreamError):
        fail(rule, call=feeding(chunks), expected=want, actual=obs.failed_with, show_values=False)
    got = getattr(obs.error, "offset", None)
    if obs.raised_at == which and got == offset:
        return
    if by_result:  # a valid prefix rejected by a feed, or the wrong offset at result()
        broken = RULE_OFFSET if obs.raised_at != which else RULE_TOO_SOON
    elif obs.raised_at is not None and obs.raised_at > which:  # too late
        broken = RULE_EARLIEST if got == offset else rule
    else:  # in time (or too early) but at the wrong place
        broken = RULE_OFFSET
    fail(broken, call=feeding(chunks), expected=want, actual=obs.failed_with, show_values=False)


@pytest.mark.level(3)
@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_malformed_input_raises_at_its_first_bad_character(impl, case):
    c = ERROR_CASES[case]
    check_error(impl, list(c.chunks), c.offset, by_result=c.by_result, rule=c.rule)
    text = "".join(c.chunks)
    if len(c.chunks) == 1 and len(text) > 1:  # the same text, one character at a time
        check_error(
            impl,
            one_by_one(text),
            c.offset,
            by_result=c.by_result,
            rule=RULE_EARLIEST if not c.by_result else c.rule,
        )


@pytest.mark.level(3)
def test_the_error_is_a_value_error_with_an_offset(impl):
    obs = run(impl, ["[1, 2,]"])
    if not isinstance(obs.error, ValueError) or not isinstance(
        getattr(obs.error, "offset", None), int
    ):
        fail(
            RULE_OFFSET,
            call=feeding(["[1, 2,]"]),
            expected="JSONStreamError (a ValueError) with an int offset",
            actual=obs.failed_with,
            show_values=False,
        )


INTERESTING = [
    *"{}[]:,\"\\/ \t\n\r-+._0123456789eEtfnrulsaxNI'#",
    *["\x00", "\x1f", "\f", "\v", "\xa0", "\u0661", "\u00b2", "é", "😀"],
]


@pytest.mark.level(3)
@settings(max_examples=50)
@given(data=st.data(), doc=documents)
def test_any_corrupted_document_raises_at_the_inserted_character(impl, data, doc):
    written = write(doc)
    at = data.draw(st.integers(0, len(written.text)), label="position")
    state = written.states[at]
    wrong = [ch for ch in INTERESTING if not allowed(state, ch)]
    ch = data.draw(st.sampled_from(wrong), label="inserted")
    text = written.text[:at] + ch + written.text[at:]
    chunks = data.draw(chunkings(text), label="chunks")
    check_error(impl, chunks, at, by_result=False, rule=RULE_OFFSET)


@pytest.mark.level(3)
@settings(max_examples=40)
@given(data=st.data(), doc=documents)
def test_any_truncated_document_raises_from_result_unless_complete(impl, data, doc):
    text = write(doc).text
    cut = data.draw(st.integers(0, max(0, len(text) - 1)), label="length")
    prefix = text[:cut]
    chunks = data.draw(chunkings(prefix), label="chunks")
    try:
        json.loads(prefix)
        complete = True
    except ValueError:
        complete = False
    if complete:
        check_value(impl, chunks)
    else:
        check_error(impl, chunks, cut, by_result=True, rule=RULE_TOO_SOON)


def long_document() -> str:
    items = [
        {
            "id": i,
            "name": f"user {i}",
            "tags": ["a", "b\u00e9"],
            "score": i * 0.25,
            "ok": i % 2 == 0,
            "t": 'x\n"y"',
        }
        for i in range(640)
    ]
    return json.dumps(items)


@pytest.mark.level(3)
@pytest.mark.timeout(5)
@pytest.mark.parametrize("shape", ["many-values", "one-long-string"])
def test_feeding_one_character_at_a_time_is_linear(impl, shape):
    text = long_document() if shape == "many-values" else json.dumps('long "line"\n' * 5_000)
    with no_decoder(impl):
        p = impl.JSONStreamParser()
        for ch in text:
            p.feed(ch)
        value = p.result()
    expected = json.loads(text)
    if not same(value, expected):
        path, got, want = difference(value, expected)
        fail(
            RULE_VALUE,
            call=f"{len(text):,} characters fed one at a time, then result()",
            expected=show(want),
            actual=show(got),
            detail=f"first difference at {path}",
            show_values=False,
        )


# ---------------------------------------------------------------------------------------------
# Level 4: server-sent events

LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass
class Expected4:
    values: list[tuple[int, Any]]  # (index of the character that ends the event, value)
    retries: list[tuple[int, int]]  # (index where the retry line ends, new value)
    done_at: int | None = None
    error: tuple[int, int] | None = (
        None  # (index that ends the malformed event, offset in its data)
    )


def event_stream(text: str) -> Expected4:
    """The WHATWG event-stream rules over the whole text, for the subset the statement keeps."""
    out = Expected4([], [])
    data: list[str] | None = None
    position = 0
    for match in LINE_END.finditer(text):
        line, end, position = text[position : match.start()], match.start(), match.end()
        if line == "":
            if data is None:
                continue
            joined, data = "\n".join(data), None
            if joined == "[DONE]":
                out.done_at = end
                return out
            try:
                out.values.append((end, json.loads(joined)))
            except json.JSONDecodeError:
                out.error = (end, -1)
                return out
            continue
        if line[0] == ":":
            continue
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            data = (data or []) + [value]
        elif name == "retry" and value != "" and all(c in DIGITS for c in value):
            out.retries.append((end, int(value)))
    return out


@dataclass
class SSEObserved:
    chunks: list[str]
    returned: list[Any] = field(default_factory=list)  # per feed
    retries: list[Any] = field(default_factory=list)  # retry after each feed
    dones: list[Any] = field(default_factory=list)
    start: tuple[Any, Any] = (None, False)
    raised_at: int | None = None
    error: BaseException | None = None


def drive_sse(impl: Any, chunks: Sequence[str]) -> SSEObserved:
    __tracebackhide__ = True
    obs = SSEObserved(list(chunks))
    try:
        with no_decoder(impl):
            decoder = impl.SSEDecoder()
            obs.start = (
                getattr(decoder, "retry", "<missing>"),
                getattr(decoder, "done", "<missing>"),
            )
            for k, chunk in enumerate(chunks):
                try:
                    got = decoder.feed(chunk)
                except NotImplementedError:
                    raise
                except Exception as exc:  # noqa: BLE001 - judged by the caller
                    obs.raised_at, obs.error = k, exc
                    return obs
                obs.returned.append(list(got) if isinstance(got, list | tuple) else got)
                obs.retries.append(getattr(decoder, "retry", "<missing>"))
                obs.dones.append(getattr(decoder, "done", "<missing>"))
    except DecoderUsed as used:
        fail(
            RULE_NO_DECODER,
            call=sse_call(chunks),
            expected="your own JSONStreamParser",
            actual=f"your code called {used}",
            show_values=False,
        )
    return obs


def sse_call(chunks: Sequence[str]) -> str:
    joined = "".join(chunks)
    if len(chunks) <= 10 and len(joined) <= 240:
        return f"d = SSEDecoder(); [d.feed(c) for c in {list(chunks)!r}]"
    return f"d = SSEDecoder(); d.feed(...) on {len(chunks)} chunks of {clip(joined, 240)}"


def check_stream(impl: Any, chunks: Sequence[str], *, rule: str) -> None:
    """Every feed returns the events it ends, retry and done follow the lines, errors come in time.

    When the chunks fail but the same text in one chunk passes, the rule is the one about chunks.
    """
    __tracebackhide__ = True
    try:
        stream_matches(impl, chunks, rule=rule)
    except AssertionError as failure:
        if len(chunks) > 1 and rule != RULE_SSE_LINES:
            try:
                stream_matches(impl, ["".join(chunks)], rule=rule)
            except AssertionError:
                raise failure from None
            message = str(failure).split("\n", 1)
            raise AssertionError(
                f"{RULE_SSE_LINES}\n  (the same text in one chunk passes)\n{message[1]}"
            ) from None
        raise


def stream_matches(impl: Any, chunks: Sequence[str], *, rule: str) -> None:
    __tracebackhide__ = True
    obs = drive_sse(impl, chunks)
    text = "".join(chunks)
    e = event_stream(text)
    call = sse_call(chunks)
    if obs.start != (None, False):
        fail(
            RULE_SSE_START,
            call="d = SSEDecoder(); d.retry, d.done",
            expected=(None, False),
            actual=obs.start,
        )
    bounds, total = [], 0
    for chunk in chunks:
        bounds.append((total, total + len(chunk)))
        total += len(chunk)
    for k, (a, b) in enumerate(bounds):
        if e.error is not None and e.error[0] < b:
            if obs.error is None or obs.raised_at is None or obs.raised_at > k:
                fail(
                    RULE_SSE_ERROR,
                    call=call,
                    expected=f"feed #{k + 1} (at the latest) raises JSONStreamError",
                    actual=sse_outcome(obs),
                    show_values=False,
                )
            if not isinstance(obs.error, impl.JSONStreamError):
                fail(
                    RULE_SSE_ERROR,
                    call=call,
                    expected="JSONStreamError",
                    actual=sse_outcome(obs),
                    show_values=False,
                )
            return
        if obs.error is not None and obs.raised_at == k:
            fail(
                rule,
                call=call,
                expected=f"feed #{k + 1} returns {show([v for i, v in e.values if a <= i < b])}",
                actual=sse_outcome(obs),
                show_values=False,
            )
        want = [v for i, v in e.values if a <= i < b and (e.done_at is None or i < e.done_at)]
        got = obs.returned[k]
        if not isinstance(got, list) or len(got) != len(want) or not all(map(same, got, want)):
            before = [v for i, v in e.values if i < a]
            fail(
                rule,
                call=call,
                expected=f"feed #{k + 1} ({chunks[k]!r}) returns {show(want)}",
                actual=f"it returned {show(got)}",
                show_values=False,
                detail=f"events returned by the earlier feeds: {show(before)}",
            )
        retry = next(
            (r for i, r in reversed(e.retries) if i < b and (e.done_at is None or i < e.done_at)),
            None,
        )
        if obs.retries[k] != retry or type(obs.retries[k]) is not type(retry):
            fail(
                RULE_SSE_RETRY if e.done_at is None or b <= e.done_at else RULE_SSE_DONE,
                call=call,
                expected=f"after feed #{k + 1}, retry == {retry!r}",
                actual=f"retry == {obs.retries[k]!r}",
                show_values=False,
            )
        done = e.done_at is not None and e.done_at < b
        if obs.dones[k] is not done:
            fail(
                RULE_SSE_DONE,
                call=call,
                expected=f"after feed #{k + 1}, done is {done}",
                actual=f"done == {obs.dones[k]!r}",
                show_values=False,
            )


def sse_outcome(obs: SSEObserved) -> str:
    if obs.error is None:
        return f"no error; the feeds returned {show(obs.returned)}"
    return (
        f"feed #{obs.raised_at + 1} raised {type(obs.error).__name__}({str(obs.error)!r}), "  # type: ignore[operator]
        f"offset={getattr(obs.error, 'offset', '<none>')!r}"
    )


README_STREAM = (
    ': keep-alive\nretry: 3000\ndata: {"delta": "Hel"}\n\ndata: {"delta":\ndata:  "lo"}\n\n'
    "data: [DONE]\n\n"
)

SSE_CASES = {
    "readme": ([README_STREAM], RULE_SSE_EVENT),
    "readme-one-char": (one_by_one(README_STREAM), RULE_SSE_EVENT),
    "crlf": (["data: 1\r\n\r\ndata: [2]\r\n\r\n"], RULE_SSE_LINES),
    "cr": (["data: 1\r\rdata: [2]\r\r"], RULE_SSE_LINES),
    "crlf-split": (
        ["data: [1\r", "\n", "data: ,2\r", "\ndata: ,3]\r", "\n\r", "\n"],
        RULE_SSE_LINES,
    ),
    "cr-at-chunk-end-then-text": (["data: [1\r", "data: ,2]\r", "\r"], RULE_SSE_LINES),
    "blank-crlf-dispatches-at-cr": (["data: [7]\r\n\r", "\n"], RULE_SSE_EVENT),
    "empty-chunks": (["", "data: 1", "", "\n", "", "\n", ""], RULE_SSE_EVENT),
    "two-events-one-chunk": (['data: {"a": 1}\n\ndata: {"a": 2}\n\ndata: 3\n\n'], RULE_SSE_EVENT),
    "multi-line-data": (['data: {\ndata: "a":\ndata: [1,\ndata: 2]}\n\n'], RULE_SSE_EVENT),
    "no-space-after-colon": (['data:{"b":true}\n\n'], RULE_SSE_FIELD),
    "line-without-colon": (["data\ndata: 1\n\n"], RULE_SSE_FIELD),
    "blank-lines-without-data": (["\n\n: note\n\nretry: 5\n\n\ndata: 1\n\n"], RULE_SSE_NO_DATA),
    "comments": ([": hello\n:\ndata: 1\n: in between\ndata: 2\n\n"], RULE_SSE_COMMENT),
    "other-fields": (
        ['event: delta\nid: 7\nfoo: bar\nData: 9\nDATA: 9\ndata: "x"\n\n'],
        RULE_SSE_OTHER,
    ),
    "retry": (
        [
            "retry: 3000\n",
            "retry:250\ndata: 1\n\n",
            "retry: 3s\nretry: -1\nretry:\nretry:  100\nretry: +5\nretry: 1_0\nretry: 7 \n",
        ],
        RULE_SSE_RETRY,
    ),
    "retry-unicode-digits": (
        ["retry: 10\n", "retry: \u0663\u0660\n", "retry: １\n"],
        RULE_SSE_RETRY,
    ),
    "retry-without-event": (["retry: 42\n"], RULE_SSE_RETRY),
    "retry-line-must-end": (["retry: 42", "0", "\n"], RULE_SSE_RETRY),
    "done": (["data: 1\n\ndata: [DONE]\n\ndata: 2\n\nretry: 9\n"], RULE_SSE_DONE),
    "done-then-garbage": (["data: [DONE]\n\n", "data: {oops\n\n", "data: 3\n\n"], RULE_SSE_DONE),
    "done-needs-exact-data": (['data: "[DONE]"\n\ndata: [DONE]\ndata: 1\n\n'], RULE_SSE_DONE),
    "unfinished-event": (["data: 1\n\ndata: 2\n", "data: 3"], RULE_SSE_UNFINISHED),
    "unfinished-line": (["data: 1\n\ndata: 2\n\n", "data: 3\n"], RULE_SSE_UNFINISHED),
}


@pytest.mark.level(4)
@pytest.mark.parametrize("case", sorted(SSE_CASES))
def test_events_come_back_from_the_feed_that_ends_them(impl, case):
    chunks, rule = SSE_CASES[case]
    check_stream(impl, chunks, rule=rule)


SSE_ERRORS = {
    # chunks, offset within the event's data
    "trailing-comma": (["data: [1,]\n\n"], 3),
    "multi-line": (["data: [1,\n", "data: 2,\ndata: ]\n\n"], 7),
    "two-spaces-kept": (["data:  [1,]\n\n"], 4),
    "line-without-colon": (["data\ndata: [1,]\n\n"], 4),
    "empty-data": (["data\n\n"], 0),
    "done-with-two-spaces": (["data:  [DONE]\n\n"], 2),
    "too-short": (['data: {"a":\n\n'], 5),
    "after-a-good-event": (["data: 1\n\n", "data: ?\n", "\n"], 0),
}


@pytest.mark.level(4)
@pytest.mark.parametrize("case", sorted(SSE_ERRORS))
def test_a_malformed_event_raises_with_the_offset_in_its_data(impl, case):
    chunks, offset = SSE_ERRORS[case]
    check_stream(impl, chunks, rule=RULE_SSE_ERROR)
    obs = drive_sse(impl, chunks)
    got = getattr(obs.error, "offset", None)
    if got != offset:
        rule = (
            RULE_SSE_FIELD
            if case
            in ("two-spaces-kept", "line-without-colon", "empty-data", "done-with-two-spaces")
            else RULE_SSE_ERROR
        )
        fail(
            rule,
            call=sse_call(chunks),
            expected=f"JSONStreamError with offset={offset}",
            actual=sse_outcome(obs),
            show_values=False,
        )


# ---- any stream


def value_pool(size: int = 150) -> list[Any]:
    """JSON values for events: scalars from the pools above, and small arrays and objects of them."""
    rnd = random.Random("json_stream events")
    finite = [number_value(t) for t in NUMBERS if math.isfinite(number_value(t))]

    def value(depth: int) -> Any:
        kind = rnd.choice(
            ["num", "str", "lit", "arr", "obj"] if depth < 2 else ["num", "str", "lit"]
        )
        if kind == "num":
            return rnd.choice(finite)
        if kind == "str":
            return "".join(rnd.choice(PIECES)[0] for _ in range(rnd.randint(0, 4)))
        if kind == "lit":
            return rnd.choice([True, False, None])
        if kind == "arr":
            return [value(depth + 1) for _ in range(rnd.randint(0, 3))]
        return {
            rnd.choice(["a", "delta", "é", ""]): value(depth + 1) for _ in range(rnd.randint(0, 3))
        }

    return [value(0) for _ in range(size)]


EVENT_VALUES = value_pool()
event_values = st.integers(0, len(EVENT_VALUES) - 1).map(lambda i: EVENT_VALUES[i])
LINE_ENDS = st.sampled_from(["\n", "\n", "\r\n", "\r"])
PARTS = st.sampled_from(["event", "event", "event", "comment", "retry", "field", "blank", "done"])
DATA_COLONS = st.sampled_from([":", ": ", ":  "])
INDENTS = st.sampled_from([None, None, 1])
IN_EVENT = st.sampled_from(["", "", "event: delta", "id: 1", ": mid-event"])
COMMENTS = st.sampled_from(["", " ping", ":"])
RETRIES = st.sampled_from(["0", "1500", "20", "x", "", " 7", "-3"])
FIELDS = st.sampled_from(["event: x", "id: 3", "Data: 1", "foo", "data_x: 1"])


@st.composite
def stream_texts(draw: st.DrawFn) -> str:
    """Events (data spread over lines), comments, retry lines, other fields, blank lines, [DONE]."""
    lines: list[str] = []

    def line(text: str) -> None:
        lines.append(text + draw(LINE_ENDS))

    for _ in range(draw(st.integers(0, 5))):
        part = draw(PARTS)
        if part == "event":
            body = json.dumps(
                draw(event_values), indent=draw(INDENTS), ensure_ascii=draw(st.booleans())
            )
            for text in body.split("\n"):
                line("data" + draw(DATA_COLONS) + text)
            extra = draw(IN_EVENT)
            if extra:
                line(extra)
            line("")
        elif part == "comment":
            line(":" + draw(COMMENTS))
        elif part == "retry":
            line("retry:" + draw(st.sampled_from(["", " "])) + draw(RETRIES))
        elif part == "field":
            line(draw(FIELDS))
        elif part == "blank":
            line("")
        else:
            line("data: [DONE]")
            line("")
    if draw(st.booleans()):  # an unfinished event at the end
        lines.append("data: " + json.dumps(draw(event_values)) + draw(st.sampled_from(["", "\n"])))
    return "".join(lines)


@pytest.mark.level(4)
@settings(max_examples=40)
@given(data=st.data(), text=stream_texts())
def test_any_event_stream_in_any_chunks(impl, data, text):
    check_stream(impl, data.draw(chunkings(text), label="chunks"), rule=RULE_SSE_EVENT)

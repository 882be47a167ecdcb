"""Hidden suite for context_packing.

Oracle: `brute_force`, written here from the statement and sharing nothing with any solution. It
enumerates every subset of the non-system messages (histories of at most 9 of them), keeps the
subsets the rules allow (they fit in the room; the kept user and assistant messages are a run
ending at the newest; so are the kept old tool results; no old tool result stays once any other
message is dropped), and picks the one the rules prefer: the most other messages, then the most
old tool results. For truncation it tries every word start of the cut message and keeps the
earliest one that fits. A greedy walk, which is what every solution writes, appears nowhere.

When the attempt's answer differs, `diagnose` names the rule the difference breaks (the system
message, the order, the room, a hole in the run, stopping too early, the marker, the word
boundary, the old tool results), and the message lists the history with each message's cost.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kata_runner.testing import fail, raised_at

MARKER = "[truncated] "

# ---------------------------------------------------------------------------------------------
# The rules of the statement, as the failure messages name them

COST = 'rule: a message costs count_tokens(message["content"]) tokens, nothing more'
SYSTEM = "rule: the system message always stays, first"
SYSTEM_FIRST_ONLY = 'rule: the system message is messages[0] when its role is "system"'
SYSTEM_TOO_BIG = "rule: if the system message alone costs more than room, raise ValueError"
RESERVED = "rule: reserved_for_reply < 0 or reserved_for_reply > budget raise ValueError"
NEWEST = (
    "rule: keep the newest messages that fit, whole, walking from the newest backwards, and stop "
    "at the first message that does not fit"
)
NO_HOLES = (
    "rule: the kept messages are a run that ends at the newest message: never skip a message to "
    "keep an older one"
)
ZERO = "rule: a message that costs 0 always fits"
ROOM = "rule: everything returned costs at most room = budget - reserved_for_reply tokens in total"
ORDER = "rule: return the system message, then the kept messages in their original order"
AS_IS = "rule: the kept dicts are returned as they are (or as equal copies)"
UNMODIFIED = "rule: the input list and its dicts are never modified"
NEW_LIST = "rule: return a new list"
EMPTY = "rule: an empty history gives []"
WHOLE = "rule: with truncate=False (the default), messages are kept whole (level 1)"

CUT = (
    "rule: with truncate=True, the first message that does not fit is cut: "
    "TRUNCATION_MARKER + content[i:], i the start of a word"
)
CUT_MARKER = (
    'rule: the cut message is TRUNCATION_MARKER + content[i:], TRUNCATION_MARKER = "[truncated] "'
)
CUT_BOUNDARY = (
    "rule: cut at a word boundary: i is a non-whitespace character at the start of the text or "
    "after whitespace; the kept end is copied verbatim"
)
CUT_LONGEST = (
    "rule: the marker counts: choose the earliest word start whose cut message fits in what is "
    "left of room"
)
CUT_NONE = "rule: if not even one word fits, drop the message (never send a bare marker)"
CUT_COPY = "rule: the cut message is a copy: the same role and other keys, the new content"
CUT_ONLY_ONE = "rule: only the first message that does not fit is cut; older messages are dropped"
SYSTEM_NOT_CUT = "rule: the system message is never cut"

OLD_FIRST = (
    "rule: old tool results (before the last user message) are dropped before any user or "
    "assistant message"
)
OLD_ONLY_WHILE = (
    "rule: old tool results are dropped oldest first and only while the rest does not fit; if "
    "everything else fits, keep every old tool result that still fits, newest first"
)
OLD_WHOLE = "rule: old tool results are dropped whole, never cut"
OLD_DEFINITION = (
    "rule: a tool result is old when it comes before the last user message (with no user "
    "message, none is old); later tool results count like any other message"
)
STILL_TOO_BIG = (
    "rule: if the messages still do not fit with every old tool result dropped, pack the remaining "
    "messages by the rules of levels 1 and 2"
)

# ---------------------------------------------------------------------------------------------
# Tokenizers the tests inject


def count_words(text: str) -> int:
    return len(text.split())


def count_chars4(text: str) -> int:
    return (len(text) + 3) // 4


TOKENIZERS = {"count_words": count_words, "count_chars4": count_chars4}

# ---------------------------------------------------------------------------------------------
# The oracle


def word_starts(text: str) -> list[int]:
    return [
        i for i, ch in enumerate(text) if not ch.isspace() and (i == 0 or text[i - 1].isspace())
    ]


@dataclass(frozen=True)
class Packed:
    """The expected answer: indices into the history, and the cut message if any."""

    kept: tuple[int, ...]  # indices of messages kept whole, in order (the system message included)
    cut_index: int | None = None  # the message cut, if one is
    cut_content: str | None = None
    cut_dropped: bool = False  # truncate=True, a message would be cut, but not one word fits
    boundary: int | None = None  # the first message that does not fit (before any cut)
    old: tuple[int, ...] = ()  # indices of old tool results


def brute_force(
    history: Sequence[dict[str, str]],
    budget: int,
    reserved: int,
    count: Callable[[str], int],
    truncate: bool,
) -> Packed | str:
    """The rules, by enumeration: a Packed answer, or the rule under which the call raises."""
    if reserved < 0 or reserved > budget:
        return RESERVED
    room = budget - reserved
    costs = [count(m["content"]) for m in history]
    first = 1 if history and history[0]["role"] == "system" else 0
    if first:
        room -= costs[0]
        if room < 0:
            return SYSTEM_TOO_BIG
    rest = list(range(first, len(history)))
    users = [i for i in rest if history[i]["role"] == "user"]
    old = [i for i in rest if history[i]["role"] == "tool" and users and i < users[-1]]
    others = [i for i in rest if i not in old]

    def is_newest_run(chosen: list[int], among: list[int]) -> bool:
        return chosen == among[len(among) - len(chosen) :]

    best: tuple[int, int] = (-1, -1)
    best_set: list[int] = []
    for mask in range(1 << len(rest)):
        chosen = [rest[j] for j in range(len(rest)) if mask >> j & 1]
        if sum(costs[i] for i in chosen) > room:
            continue
        kept_others = [i for i in chosen if i in others]
        kept_old = [i for i in chosen if i in old]
        if not is_newest_run(kept_others, others) or not is_newest_run(kept_old, old):
            continue
        if len(kept_others) < len(others) and kept_old:
            continue  # an old tool result outlived a user or assistant message
        key = (len(kept_others), len(kept_old))
        if key > best:
            best, best_set = key, chosen
    kept = tuple(range(first)) + tuple(best_set)
    dropped_others = [i for i in others if i not in best_set]
    if not dropped_others:
        return Packed(kept, old=tuple(old))
    boundary = dropped_others[-1]
    if not truncate:
        return Packed(kept, boundary=boundary, old=tuple(old))
    left = room - sum(costs[i] for i in best_set)
    text = history[boundary]["content"]
    fitting = [i for i in word_starts(text) if count(MARKER + text[i:]) <= left]
    if not fitting:
        return Packed(kept, cut_dropped=True, boundary=boundary, old=tuple(old))
    return Packed(kept, boundary, MARKER + text[min(fitting) :], boundary=boundary, old=tuple(old))


def expected_list(history: Sequence[dict[str, str]], packed: Packed) -> list[dict[str, str]]:
    out = [dict(history[i]) for i in packed.kept]
    if packed.cut_index is not None:
        cut = {**history[packed.cut_index], "content": packed.cut_content or ""}
        position = sum(1 for i in packed.kept if i < packed.cut_index)
        out.insert(position, cut)
    return out


# ---------------------------------------------------------------------------------------------
# Describing a case and an answer


@dataclass(frozen=True)
class Case:
    history: list[dict[str, str]]
    budget: int
    reserved: int = 0
    tokenizer: str = "count_words"
    truncate: bool = False

    @property
    def count(self) -> Callable[[str], int]:
        return TOKENIZERS[self.tokenizer]

    @property
    def room(self) -> int:
        return self.budget - self.reserved

    def call(self) -> str:
        parts = [f"pack_context(history, {self.budget}"]
        if self.reserved:
            parts.append(f"reserved_for_reply={self.reserved}")
        parts.append(f"count_tokens={self.tokenizer}")
        if self.truncate:
            parts.append("truncate=True")
        lines = [", ".join(parts) + ")", f"    room = {self.room}; history (cost: message):"]
        for i, m in enumerate(self.history):
            extra = {k: v for k, v in m.items() if k not in ("role", "content")}
            more = f" {extra}" if extra else ""
            lines.append(
                f"    [{i}] {self.count(m['content'])}: {m['role']}: {m['content']!r}{more}"
            )
        return "\n".join(lines)


def describe(case: Case, answer: Sequence[Any]) -> str:
    """[0, 3, 4] with cut messages spelled out: [0, 2 cut to '...', 3]."""
    shown = []
    for m in answer:
        index = next((i for i, h in enumerate(case.history) if h == m), None)
        if index is not None:
            shown.append(str(index))
            continue
        cut = None
        if isinstance(m, dict):
            content = m.get("content")
            cut = next(
                (i for i, h in enumerate(case.history) if {**h, "content": content} == m), None
            )
        shown.append(f"{cut} cut to {m['content']!r}" if cut is not None else f"{m!r} (new)")
    return "[" + ", ".join(shown) + "]"


# ---------------------------------------------------------------------------------------------
# Running a case and judging the answer


def run_case(impl: Any, case: Case, *, rule: str = NEWEST) -> None:
    """Call the attempt on the case, then check its answer against the brute force."""
    __tracebackhide__ = True
    history = copy.deepcopy(case.history)
    kwargs: dict[str, Any] = {"count_tokens": case.count, "reserved_for_reply": case.reserved}
    if case.truncate:
        kwargs["truncate"] = True
    answer: Any = None
    raised: Exception | None = None
    try:
        answer = impl.pack_context(history, case.budget, **kwargs)
    except (NotImplementedError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - judged below, against the rules
        raised = exc
    expected = brute_force(case.history, case.budget, case.reserved, case.count, case.truncate)
    call = case.call()
    if isinstance(expected, str):  # the rules say ValueError
        if not isinstance(raised, ValueError):
            got = f"raised {type(raised).__name__}: {raised}" if raised else f"returned {answer!r}"
            fail(expected, call=call, expected="raises ValueError", actual=got, show_values=False)
        return
    if raised is not None:
        try:
            fail(
                rule,
                call=call,
                expected="a list of messages",
                actual=f"raised {type(raised).__name__}: {raised}",
                show_values=False,
                detail=raised_at(raised),
            )
        except AssertionError as failure:
            raise failure from raised
    if history != case.history:
        fail(
            UNMODIFIED,
            call=call,
            expected="the history unchanged",
            actual=f"the history became {history!r}",
            show_values=False,
        )
    if not isinstance(answer, list):
        fail(NEW_LIST, call=call, expected="a list", actual=f"{type(answer).__name__}: {answer!r}")
    if answer is history:
        fail(NEW_LIST, call=call, expected="a new list", actual="the history list itself")
    want = expected_list(case.history, expected)
    if answer != want:
        broken = diagnose(case, expected, answer)
        headline = rule if broken is None or broken == rule else f"{broken}\n  (checking: {rule})"
        fail(
            headline,
            call=call,
            expected=f"{describe(case, want)} (cost {cost_of(case, want)})",
            actual=f"{describe(case, answer)} (cost {cost_of(case, answer)})",
            show_values=False,
        )


def cost_of(case: Case, answer: Sequence[Any]) -> str:
    try:
        return str(sum(case.count(m["content"]) for m in answer))
    except (TypeError, KeyError):
        return "?"


def match(case: Case, answer: list[Any]) -> list[tuple[int, str | None]] | str:
    """Each answered message as (index in the history, None if whole or its new content if cut),
    matching repeated messages in order; or the rule an unrecognisable message breaks."""
    history, out, after = case.history, [], -1
    for m in answer:
        if not (isinstance(m, dict) and isinstance(m.get("content"), str)):
            return AS_IS
        whole = [i for i, h in enumerate(history) if h == m]
        cut = [i for i, h in enumerate(history) if {**h, "content": m["content"]} == m]
        found = whole or cut
        if not found:
            same_role = any(h["role"] == m.get("role") for h in history)
            return CUT_COPY if case.truncate and same_role else AS_IS
        later = [i for i in found if i > after]
        i = later[0] if later else found[0]
        out.append((i, None if whole else m["content"]))
        after = max(after, i)
    return out


def diagnose(case: Case, expected: Packed, answer: list[Any]) -> str | None:
    """The rule a wrong answer breaks, as plainly as the answer shows it (None: no plainer rule)."""
    history = case.history
    has_system = bool(history) and history[0]["role"] == "system"
    if has_system and (not answer or answer[0] != history[0]):
        first = answer[0] if answer else None
        if isinstance(first, dict) and str(first.get("content", "")).startswith(MARKER):
            return SYSTEM_NOT_CUT
        return SYSTEM
    items = match(case, answer)
    if isinstance(items, str):
        return items
    order = [i for i, _ in items]
    if order != sorted(set(order)):
        return ORDER
    whole = [i for i, c in items if c is None]
    cuts = [(i, c) for i, c in items if c is not None]
    for index, content in cuts:
        if not content.startswith(MARKER):
            return CUT_MARKER
        text = history[index]["content"]
        if not any(text[i:] == content[len(MARKER) :] for i in word_starts(text)):
            return CUT_BOUNDARY
    total = sum(case.count(m["content"]) for m in answer)
    if total > case.room:
        whole_cost = sum(case.count(history[i]["content"]) for i in whole)
        return CUT_LONGEST if cuts and whole_cost <= case.room else ROOM
    if cuts and not case.truncate:
        return WHOLE
    old = set(expected.old)
    if any(i in old for i, _ in cuts):
        return OLD_WHOLE
    if len(cuts) > 1:
        return CUT_ONLY_ONE
    rest = list(range(1 if has_system else 0, len(history)))
    others = [i for i in rest if i not in old]
    kept_others = [i for i in whole if i in others]
    kept_old = [i for i in whole if i in old]
    want_others = [i for i in expected.kept if i in others]
    want_old = [i for i in expected.kept if i in old]
    if kept_old and len(kept_others) < len(others):
        return OLD_FIRST
    if kept_others != others[len(others) - len(kept_others) :]:
        skipped_zero = [
            i for i in others if i not in whole and not case.count(history[i]["content"])
        ]
        return ZERO if skipped_zero and set(skipped_zero) <= set(want_others) else NO_HOLES
    if len(kept_others) != len(want_others):
        return NEWEST
    if kept_old != want_old:
        return OLD_ONLY_WHILE
    if expected.cut_index is not None and not cuts:
        return CUT
    if cuts and expected.cut_index is None:
        return CUT_NONE if expected.cut_dropped else CUT_ONLY_ONE
    if cuts:
        index, content = cuts[0]
        if index != expected.cut_index:
            return CUT_ONLY_ONE
        return CUT_LONGEST
    return None


# ---------------------------------------------------------------------------------------------
# Building histories


def msg(role: str, content: str, **extra: str) -> dict[str, str]:
    return {"role": role, "content": content, **extra}


def system(content: str) -> dict[str, str]:
    return msg("system", content)


def user(content: str) -> dict[str, str]:
    return msg("user", content)


def assistant(content: str) -> dict[str, str]:
    return msg("assistant", content)


def tool(content: str, **extra: str) -> dict[str, str]:
    return msg("tool", content, **extra)


WORDS = ["a", "to", "the", "model", "token", "bucket", "Paris", "rain,", "42", "ok!", "naïve"]
SEPARATORS = [" ", " ", " ", "  ", "\n", "\t", " \n "]


@st.composite
def contents(draw: st.DrawFn, max_words: int = 6) -> str:
    words = draw(st.lists(st.sampled_from(WORDS), max_size=max_words), label="words")
    if not words:
        return draw(st.sampled_from(["", " ", "\n"]), label="blank")
    seps = [draw(st.sampled_from(SEPARATORS)) for _ in words[1:]]
    text = words[0] + "".join(s + w for s, w in zip(seps, words[1:], strict=True))
    lead = draw(st.sampled_from(["", "", "", " ", "\n"]), label="lead")
    trail = draw(st.sampled_from(["", "", "", " ", "\n"]), label="trail")
    return lead + text + trail


@st.composite
def cases(
    draw: st.DrawFn,
    *,
    roles: Sequence[str] = ("user", "assistant"),
    truncate: bool = False,
    max_messages: int = 8,
) -> Case:
    n = draw(st.integers(0, max_messages), label="messages")
    history = []
    if draw(st.booleans(), label="system"):
        history.append(system(draw(contents(max_words=4))))
    for _ in range(n):
        role = draw(st.sampled_from(list(roles)))
        extra = {}
        if role == "tool" and draw(st.booleans()):
            extra = {"tool_call_id": draw(st.sampled_from(["call_1", "call_2"]))}
        elif role != "tool" and draw(st.integers(0, 5)) == 0:
            extra = {"name": "ana"}
        history.append(msg(role, draw(contents()), **extra))
    tokenizer = draw(st.sampled_from(list(TOKENIZERS)), label="tokenizer")
    count = TOKENIZERS[tokenizer]
    system_cost = count(history[0]["content"]) if history and history[0]["role"] == "system" else 0
    rest_cost = sum(count(m["content"]) for m in history) - system_cost
    reserved = draw(st.integers(0, 6), label="reserved")
    spare = draw(st.integers(0, rest_cost + 2), label="room after the system message")
    return Case(history, system_cost + spare + reserved, reserved, tokenizer, truncate)


# ---------------------------------------------------------------------------------------------
# Level 1: the system message and the newest messages that fit

STATEMENT_HISTORY = [
    system("You are a terse assistant."),
    user("What is a token bucket?"),
    assistant("A rate limiter that refills continuously."),
    user("And a leaky bucket?"),
    assistant("A queue drained at a fixed rate."),
    user("Which one should I use?"),
]


@pytest.mark.level(1)
def test_the_statement_example(impl):
    run_case(impl, Case(STATEMENT_HISTORY, 33, reserved=8), rule=NEWEST)


@pytest.mark.level(1)
@pytest.mark.parametrize(("budget", "reserved"), [(30, 8), (21, 0), (26, 5), (10, 0), (5, 0)])
def test_the_newest_messages_that_fit_are_kept_in_order(impl, budget, reserved):
    run_case(impl, Case(STATEMENT_HISTORY, budget, reserved=reserved), rule=NEWEST)


@pytest.mark.level(1)
def test_the_walk_stops_at_the_first_message_that_does_not_fit(impl):
    history = [
        system("Be brief."),
        user("hi"),
        assistant("one two three four five six seven eight"),
        user("a b c"),
        assistant("d e"),
    ]
    # room 2 + 5 + 3: after 'd e' and 'a b c', 3 tokens are left; the 8-word message does not fit,
    # and 'hi' (1 token) must not be kept behind it
    run_case(impl, Case(history, 10), rule=NO_HOLES)


@pytest.mark.level(1)
def test_a_message_that_exactly_fills_the_room_is_kept(impl):
    history = [user("one two three"), assistant("four five"), user("six")]
    run_case(impl, Case(history, 6), rule=NEWEST + " (a message that fills the room exactly fits)")
    run_case(impl, Case(history, 5), rule=NEWEST)


@pytest.mark.level(1)
def test_the_system_message_always_stays_first(impl):
    history = [system("You are a careful assistant."), user("x " * 30), assistant("ok")]
    run_case(impl, Case(history, 6), rule=SYSTEM)
    run_case(impl, Case(history, 5), rule=SYSTEM + " (even when nothing else fits)")
    run_case(impl, Case([history[0]], 9), rule=SYSTEM)


@pytest.mark.level(1)
@pytest.mark.parametrize(("budget", "reserved"), [(4, 0), (9, 6), (100, 96)])
def test_a_system_message_that_does_not_fit_raises(impl, budget, reserved):
    history = [system("You are a careful assistant."), user("hi")]
    run_case(impl, Case(history, budget, reserved=reserved), rule=SYSTEM_TOO_BIG)


@pytest.mark.level(1)
@pytest.mark.parametrize(("budget", "reserved"), [(10, 11), (10, -1), (0, 1)])
def test_invalid_reserved_for_reply_raises(impl, budget, reserved):
    run_case(impl, Case([user("hi")], budget, reserved=reserved), rule=RESERVED)


@pytest.mark.level(1)
def test_reserved_for_reply_is_kept_free(impl):
    history = [user("a b c"), assistant("d e f"), user("g h")]
    run_case(impl, Case(history, 8, reserved=3), rule=ROOM)
    run_case(impl, Case(history, 8, reserved=0), rule=NEWEST)
    run_case(impl, Case(history, 8, reserved=8), rule=ROOM)


@pytest.mark.level(1)
def test_without_a_system_message_only_the_newest_are_kept(impl):
    history = [user("a b c d"), assistant("e f"), user("g h i")]
    run_case(impl, Case(history, 5), rule=NEWEST)
    run_case(impl, Case(history, 2), rule=NEWEST + " (nothing fits)")


@pytest.mark.level(1)
def test_only_messages_0_can_be_the_system_message(impl):
    history = [user("a b"), msg("system", "c d e"), user("f")]
    run_case(impl, Case(history, 4), rule=SYSTEM_FIRST_ONLY)


@pytest.mark.level(1)
def test_an_empty_history_gives_an_empty_list(impl):
    run_case(impl, Case([], 10), rule=EMPTY)
    run_case(impl, Case([], 0), rule=EMPTY)


@pytest.mark.level(1)
def test_messages_that_cost_nothing_always_fit(impl):
    history = [system("sys"), user(""), assistant("a b c"), user(" \n "), assistant("")]
    run_case(impl, Case(history, 4), rule=ZERO)
    run_case(impl, Case(history, 1), rule=ZERO)


@pytest.mark.level(1)
def test_the_cost_is_count_tokens_of_the_content(impl):
    # count_chars4 and a word count disagree: 'incomprehensibilities' is 1 word but 6 tokens,
    # 'a b c d e f g h' is 8 words but 4 tokens
    long_word, many_words = "incomprehensibilities", "a b c d e f g h"
    history = [system("sys"), user(many_words), assistant(long_word), user("ok")]
    run_case(impl, Case(history, 5, tokenizer="count_chars4"), rule=COST)
    history = [system("sys"), user(long_word), assistant("ok"), user(many_words)]
    run_case(impl, Case(history, 6, tokenizer="count_chars4"), rule=COST)


@pytest.mark.level(1)
def test_the_input_is_never_modified_and_extra_keys_are_kept(impl):
    history = [
        system("Be brief."),
        msg("user", "a b c", name="ana"),
        msg("assistant", "d e f g"),
        msg("user", "h i", name="ana"),
    ]
    run_case(impl, Case(history, 6), rule=AS_IS)
    run_case(impl, Case(history, 100), rule=AS_IS)


@pytest.mark.level(1)
@settings(max_examples=100)
@given(case=cases())
def test_any_history_matches_the_brute_force(impl, case):
    run_case(impl, case, rule=NEWEST)


# ---------------------------------------------------------------------------------------------
# Level 2: fill the rest with the end of the next message


@pytest.mark.level(2)
def test_the_statement_example_with_truncation(impl):
    run_case(impl, Case(STATEMENT_HISTORY, 33, reserved=8, truncate=True), rule=CUT)


@pytest.mark.level(2)
@pytest.mark.parametrize("budget", [22, 23, 24, 25, 26])
def test_the_cut_fills_the_room_exactly_when_counting_words(impl, budget):
    run_case(impl, Case(STATEMENT_HISTORY, budget, truncate=True), rule=CUT_LONGEST)


@pytest.mark.level(2)
def test_the_cut_keeps_the_end_verbatim_from_a_word_start(impl):
    history = [
        user("first line\nsecond  line,\tthird one \n"),
        assistant("ok"),
    ]
    for budget in (2, 3, 4, 5, 6):
        run_case(impl, Case(history, budget, truncate=True), rule=CUT_BOUNDARY)


@pytest.mark.level(2)
def test_the_marker_counts(impl):
    history = [user("alpha beta gamma delta epsilon"), assistant("ok")]
    run_case(impl, Case(history, 3, truncate=True), rule=CUT_LONGEST + " (the marker is 1 word)")
    # count_chars4: the marker is 12 characters, 'ok' 1 token
    for budget in (5, 6, 7, 8, 9):
        run_case(
            impl,
            Case(history, budget, tokenizer="count_chars4", truncate=True),
            rule=CUT_LONGEST,
        )


@pytest.mark.level(2)
def test_a_message_with_no_word_that_fits_is_dropped(impl):
    history = [user("alpha beta"), assistant("one two three")]
    run_case(impl, Case(history, 4, truncate=True), rule=CUT_NONE)
    run_case(impl, Case(history, 3, truncate=True), rule=CUT_NONE + " (the marker alone fits)")
    run_case(impl, Case(history, 7, tokenizer="count_chars4", truncate=True), rule=CUT_NONE)


@pytest.mark.level(2)
def test_the_cut_message_is_a_copy_with_the_same_role_and_keys(impl):
    history = [
        system("Be brief."),
        msg("user", "please summarise the whole report", name="ana"),
        msg("assistant", "done"),
    ]
    run_case(impl, Case(history, 6, truncate=True), rule=CUT_COPY)


@pytest.mark.level(2)
def test_only_one_message_is_cut_and_older_ones_are_dropped(impl):
    history = [user("a b c d"), assistant("e f g h"), user("i j k l"), assistant("m")]
    run_case(impl, Case(history, 4, truncate=True), rule=CUT_ONLY_ONE)
    run_case(impl, Case(history, 8, truncate=True), rule=CUT_ONLY_ONE)


@pytest.mark.level(2)
def test_the_system_message_is_never_cut(impl):
    history = [system("one two three four five"), user("six")]
    run_case(impl, Case(history, 4, truncate=True), rule=SYSTEM_NOT_CUT)


@pytest.mark.level(2)
def test_without_truncate_messages_stay_whole(impl):
    run_case(impl, Case(STATEMENT_HISTORY, 33, reserved=8), rule=WHOLE)


@pytest.mark.level(2)
@settings(max_examples=100)
@given(case=cases(truncate=True))
def test_any_history_with_truncation_matches_the_brute_force(impl, case):
    run_case(impl, case, rule=CUT)


# ---------------------------------------------------------------------------------------------
# Level 3: old tool results go first

AGENT_HISTORY = [
    system("You are a helpful agent."),
    user("Find the weather in Paris."),
    assistant("Calling the weather tool."),
    tool("Paris: 18 C, light rain, wind 10 km/h, humidity 80 percent.", tool_call_id="call_1"),
    assistant("It is 18 C and raining in Paris."),
    user("And in Rome?"),
    assistant("Calling the weather tool."),
    tool("Rome: 24 C, sunny.", tool_call_id="call_2"),
]


@pytest.mark.level(3)
@pytest.mark.parametrize("budget", [38, 30])
def test_the_statement_example_for_tools(impl, budget):
    run_case(impl, Case(AGENT_HISTORY, budget), rule=OLD_FIRST)


@pytest.mark.level(3)
def test_old_tool_results_are_dropped_oldest_first_and_only_while_needed(impl):
    history = [
        user("q1"),
        tool("r1 r1 r1"),
        assistant("a1"),
        tool("r2 r2"),
        tool("r3"),
        user("q2"),
        assistant("a2"),
    ]
    for budget in (10, 9, 8, 7, 6, 5, 4):
        run_case(impl, Case(history, budget), rule=OLD_ONLY_WHILE)


@pytest.mark.level(3)
def test_old_tool_results_that_fit_are_kept_newest_first_stopping_at_the_first_that_does_not(impl):
    history = [
        user("q1"),
        tool("r1"),
        assistant("a1"),
        tool("r2 r2 r3"),
        user("q2"),
        assistant("a2"),
    ]
    # the others cost 4: at 5 and 6, r2 (3) does not fit, so r1 (1) must go too, though it would fit
    for budget in (8, 7, 6, 5, 4):
        run_case(impl, Case(history, budget), rule=OLD_ONLY_WHILE)


@pytest.mark.level(3)
def test_old_tool_results_go_before_any_user_or_assistant_message(impl):
    history = [user("q1 q1"), tool("r1"), assistant("a1 a1"), user("q2"), assistant("a2 a2")]
    for budget in (6, 5, 4, 3):
        run_case(impl, Case(history, budget), rule=OLD_FIRST)


@pytest.mark.level(3)
def test_tool_results_after_the_last_user_message_count_like_any_message(impl):
    history = [user("q1"), tool("r1 r1"), user("q2"), assistant("call"), tool("r2 r2 r2")]
    for budget in (7, 6, 5, 4, 3):
        run_case(impl, Case(history, budget), rule=OLD_DEFINITION)
    no_user = [assistant("hello"), tool("r1 r1"), assistant("a b c")]
    for budget in (5, 4, 3):
        run_case(impl, Case(no_user, budget), rule=OLD_DEFINITION + " (no user message)")


@pytest.mark.level(3)
def test_old_tool_results_are_never_cut(impl):
    history = [user("q1"), tool("r1 r1 r1 r1"), user("q2 q2")]
    for budget in (5, 4, 3):
        run_case(impl, Case(history, budget, truncate=True), rule=OLD_WHOLE)


@pytest.mark.level(3)
def test_when_the_rest_still_does_not_fit_it_is_packed_and_cut_as_before(impl):
    for budget in (30, 27, 25, 22):
        run_case(impl, Case(AGENT_HISTORY, budget, truncate=True), rule=STILL_TOO_BIG)
        run_case(impl, Case(AGENT_HISTORY, budget), rule=STILL_TOO_BIG)


@pytest.mark.level(3)
@settings(max_examples=150)
@given(case=cases(roles=("user", "assistant", "tool", "tool")), truncate=st.booleans())
def test_any_agent_history_matches_the_brute_force(impl, case, truncate):
    run_case(
        impl,
        Case(case.history, case.budget, case.reserved, case.tokenizer, truncate),
        rule=OLD_FIRST,
    )

"""Hidden suite for chunker.

Oracles, independent of any solution:
- windows: counted, not looped: n = 0 gives none; n <= size gives one; otherwise
  1 + ceil((n - size) / stride), window i covering [i·stride, min(i·stride + size, n)).
- words: a character scan with str.isspace(), the definition str.split() uses.
Properties check the invariants the statement promises (lengths, shared items, stitching,
coverage, offsets) on distinct items, so a window is identified by its positions.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kata_runner.testing import call_repr, expect_equal, expect_raises, fail, returns

RULE_WINDOWS = "each window starts size - overlap items after the previous one"
RULE_LAST = "rule: the last window ends at the last item and may be shorter (every item is covered)"
RULE_STOP = (
    "rule: stop once a window reaches the end (no window lies wholly inside the previous one)"
)
RULE_EMPTY = "rule: an empty input gives []"
RULE_LIST = "rule: each window is a list, whatever the type of tokens"
RULE_BAD = "rule: size < 1, overlap < 0 or overlap >= size raise ValueError (even for empty input)"
RULE_SHARE = "consecutive windows share exactly `overlap` items"
RULE_STITCH = "stitching the windows while dropping the first `overlap` items of each later one gives the input"
RULE_WORDS = (
    "rule: words are maximal runs of non-whitespace; whitespace is what str.split() splits on"
)
RULE_SPAN = "rule: text[c.start:c.end] == c.text, from the first word's first character to the last word's last"
RULE_SPACING = "rule: a chunk keeps the original spacing between its words"
RULE_OFFSETS = "rule: offsets are str indices (code points), not UTF-8 byte offsets"
RULE_NO_WORDS = "rule: a text without words gives []"
RULE_CHUNKS = f"chunks as (text, start, end); {RULE_SPAN}; {RULE_SPACING}"

BAD_ARGUMENTS = [(0, 0), (-1, 0), (3, -1), (3, 3), (3, 4), (1, 1)]


# ---------------------------------------------------------------------------------------------
# Oracles


def oracle_bounds(n: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) of every window, from the count rather than a loop."""
    if n == 0:
        return []
    stride = size - overlap
    count = 1 if n <= size else 1 + math.ceil((n - size) / stride)
    return [(i * stride, min(i * stride + size, n)) for i in range(count)]


def oracle_chunk(tokens: Any, size: int, overlap: int) -> list[list[Any]]:
    return [list(tokens[a:b]) for a, b in oracle_bounds(len(tokens), size, overlap)]


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every maximal run of characters c with not c.isspace()."""
    spans = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        j = i
        while j < len(text) and not text[j].isspace():
            j += 1
        spans.append((i, j))
        i = j
    return spans


def oracle_chunk_text(text: str, size: int, overlap: int) -> list[tuple[str, int, int]]:
    spans = word_spans(text)
    out = []
    for a, b in oracle_bounds(len(spans), size, overlap):
        start, end = spans[a][0], spans[b - 1][1]
        out.append((text[start:end], start, end))
    return out


# ---------------------------------------------------------------------------------------------
# Calling the attempt


def run_chunk(impl: Any, tokens: Any, size: int, overlap: int, *, rule: str) -> tuple[str, Any]:
    """Call chunk(); check it returned a list of lists."""
    __tracebackhide__ = True
    call = call_repr("chunk", tokens, size, overlap)
    result = returns(impl.chunk, tokens, size, overlap, call=call, rule=rule)
    if not isinstance(result, list) or not all(isinstance(w, list) for w in result):
        fail(f"{RULE_LIST} (and the result is a list of windows)", call=call, actual=result)
    return call, result


def as_triples(result: Any, *, call: str) -> list[tuple[Any, Any, Any]]:
    """The chunks as (text, start, end), read through the attributes only."""
    __tracebackhide__ = True
    if not isinstance(result, list):
        fail("chunk_text returns a list of chunks", call=call, actual=result)
    triples = []
    for c in result:
        if not all(hasattr(c, name) for name in ("text", "start", "end")):
            fail("each chunk has the attributes .text, .start and .end", call=call, actual=c)
        triples.append((c.text, c.start, c.end))
    return triples


def run_chunk_text(impl: Any, text: str, size: int, overlap: int, *, rule: str) -> tuple[str, Any]:
    __tracebackhide__ = True
    call = call_repr("chunk_text", text, size, overlap)
    result = returns(impl.chunk_text, text, size, overlap, call=call, rule=rule)
    return call, as_triples(result, call=call)


def expect_windows(
    impl: Any, tokens: Any, size: int, overlap: int, expected: Any, *, on_raise: str, rule: str
) -> None:
    __tracebackhide__ = True
    call, result = run_chunk(impl, tokens, size, overlap, rule=on_raise)
    expect_equal(result, expected, call=call, rule=rule)


def expect_chunks(
    impl: Any, text: str, size: int, overlap: int, expected: Any, *, on_raise: str, rule: str
) -> None:
    """chunk_text's chunks as (text, start, end) must be `expected` (default: the oracle's)."""
    __tracebackhide__ = True
    call, result = run_chunk_text(impl, text, size, overlap, rule=on_raise)
    if expected is None:
        expected = oracle_chunk_text(text, size, overlap)
    expect_equal(result, expected, call=call, rule=rule)


def check_invariants(
    windows: list[list[Any]], tokens: list[Any], size: int, overlap: int, *, call: str
) -> None:
    """The statement's promises, one message each, before the comparison with the oracle."""
    __tracebackhide__ = True
    for i, w in enumerate(windows):
        if not 1 <= len(w) <= size:
            fail(
                f"a window holds 1 to size = {size} items; window {i} holds {len(w)}",
                call=call,
                actual=windows,
            )
    for i in range(len(windows) - 1):
        if len(windows[i]) != size:
            fail(
                f"every window but the last holds size = {size} items; window {i} holds "
                f"{len(windows[i])}",
                call=call,
                actual=windows,
            )
        if len(windows[i + 1]) <= overlap:
            fail(
                f"{RULE_STOP}: window {i + 1} lies inside window {i}",
                call=call,
                actual=windows,
            )
        shared = windows[i][size - overlap :]
        if windows[i + 1][:overlap] != shared:
            fail(
                f"{RULE_SHARE}: windows {i} and {i + 1}",
                call=call,
                expected=shared,
                actual=windows[i + 1][:overlap],
                detail=f"windows: {windows!r}"[:600],
            )
    stitched = list(windows[0]) if windows else []
    for w in windows[1:]:
        stitched.extend(w[overlap:])
    if stitched != list(tokens):
        covered = set(stitched)
        missing = [t for t in tokens if t not in covered]
        rule = RULE_LAST if missing else RULE_STOP if len(stitched) > len(tokens) else RULE_STITCH
        fail(
            f"{rule}; {RULE_STITCH}",
            call=call,
            expected=list(tokens),
            actual=stitched,
            detail=f"windows: {windows!r}"[:600],
        )


# ---------------------------------------------------------------------------------------------
# Level 1: windows over a sequence


@pytest.mark.level(1)
def test_worked_example(impl):
    expected = [list("abcd"), list("defg"), list("ghij")]
    rule = f"{RULE_WINDOWS}; {RULE_STOP}"
    expect_windows(impl, list("abcdefghij"), 4, 1, expected, on_raise=RULE_WINDOWS, rule=rule)


@pytest.mark.level(1)
def test_last_window_ends_at_the_last_item_and_may_be_shorter(impl):
    expected = [list("abcd"), list("defg"), list("ghij"), list("jk")]
    expect_windows(impl, list("abcdefghijk"), 4, 1, expected, on_raise=RULE_LAST, rule=RULE_LAST)


@pytest.mark.level(1)
@pytest.mark.parametrize(
    ("n", "size", "overlap"), [(420, 100, 20), (10, 4, 2), (7, 5, 3), (6, 3, 1)]
)
def test_no_window_lies_inside_the_previous_one(impl, n, size, overlap):
    tokens = list(range(n))
    call, result = run_chunk(impl, tokens, size, overlap, rule=RULE_STOP)
    expected = oracle_chunk(tokens, size, overlap)
    if len(result) > len(expected):
        fail(
            RULE_STOP,
            call=call,
            expected=f"{len(expected)} windows",
            show_values=False,
            actual=f"{len(result)} windows, the extra ones starting at item(s) "
            f"{[w[0] for w in result[len(expected) :] if w]}",
        )
    expect_equal(result, expected, call=call, rule=f"{RULE_WINDOWS}; {RULE_STOP}")


@pytest.mark.level(1)
@pytest.mark.parametrize(
    ("tokens", "size", "overlap"),
    [([1, 2, 3], 5, 2), ([1, 2, 3], 3, 1), (["x"], 1, 0)],
    ids=["shorter", "exactly-size", "one-item"],
)
def test_input_of_at_most_size_items_gives_one_window(impl, tokens, size, overlap):
    rule = "rule: an input of at most size items gives one window, all of it"
    expect_windows(impl, tokens, size, overlap, [list(tokens)], on_raise=RULE_LAST, rule=rule)


@pytest.mark.level(1)
def test_overlap_zero_splits_into_consecutive_blocks(impl):
    expected = [[0, 1, 2], [3, 4, 5], [6]]
    rule = f"{RULE_WINDOWS} (overlap 0: stride = size)"
    expect_windows(impl, list(range(7)), 3, 0, expected, on_raise=RULE_WINDOWS, rule=rule)


@pytest.mark.level(1)
@pytest.mark.parametrize("tokens", [[], (), ""], ids=["list", "tuple", "str"])
def test_empty_input_gives_no_windows(impl, tokens):
    expect_windows(impl, tokens, 3, 1, [], on_raise=RULE_EMPTY, rule=RULE_EMPTY)


@pytest.mark.level(1)
@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (("a", "b", "c", "d"), [["a", "b", "c"], ["c", "d"]]),
        (range(4), [[0, 1, 2], [2, 3]]),
        ("abcd", [["a", "b", "c"], ["c", "d"]]),
    ],
    ids=["tuple", "range", "str"],
)
def test_windows_are_lists_whatever_the_sequence(impl, tokens, expected):
    call = call_repr("chunk", tokens, 3, 1)
    result = returns(impl.chunk, tokens, 3, 1, call=call, rule=RULE_LIST)
    expect_equal(result, expected, call=call, rule=RULE_LIST)


@pytest.mark.level(1)
@pytest.mark.parametrize(("size", "overlap"), BAD_ARGUMENTS)
@pytest.mark.parametrize("tokens", [[1, 2, 3, 4, 5], []], ids=["five-items", "empty"])
def test_bad_arguments_raise_value_error(impl, tokens, size, overlap):
    call = call_repr("chunk", tokens, size, overlap)
    expect_raises(ValueError, impl.chunk, tokens, size, overlap, call=call, rule=RULE_BAD)


@pytest.mark.level(1)
@given(n=st.integers(0, 60), size=st.integers(1, 12), data=st.data())
def test_windows_match_the_counted_windows(impl, n, size, data):
    overlap = data.draw(st.integers(0, size - 1), label="overlap")
    tokens = list(range(n))
    call, result = run_chunk(impl, tokens, size, overlap, rule=RULE_WINDOWS)
    check_invariants(result, tokens, size, overlap, call=call)
    expect_equal(
        result, oracle_chunk(tokens, size, overlap), call=call, rule=f"{RULE_WINDOWS}; {RULE_STOP}"
    )


@pytest.mark.level(1)
@given(
    tokens=st.lists(st.sampled_from(["a", "b", "the", ""]), max_size=40),
    size=st.integers(1, 9),
    data=st.data(),
)
def test_stitching_without_overlaps_gives_the_input(impl, tokens, size, data):
    # Repeated items: the windows must still be positions, not values.
    overlap = data.draw(st.integers(0, size - 1), label="overlap")
    call, result = run_chunk(impl, tokens, size, overlap, rule=RULE_WINDOWS)
    check_invariants(result, tokens, size, overlap, call=call)
    expect_equal(
        result, oracle_chunk(tokens, size, overlap), call=call, rule=f"{RULE_WINDOWS}; {RULE_STOP}"
    )


@pytest.mark.level(1)
@given(
    tokens=st.lists(st.integers(0, 9), max_size=10),
    size=st.integers(-3, 5),
    overlap=st.integers(-3, 6),
)
def test_arguments_are_checked(impl, tokens, size, overlap):
    call = call_repr("chunk", tokens, size, overlap)
    if size < 1 or overlap < 0 or overlap >= size:
        expect_raises(ValueError, impl.chunk, tokens, size, overlap, call=call, rule=RULE_BAD)
    else:
        result = returns(
            impl.chunk,
            tokens,
            size,
            overlap,
            call=call,
            rule="rule: size >= 1 and 0 <= overlap < size are valid arguments",
        )
        expect_equal(result, oracle_chunk(tokens, size, overlap), call=call, rule=RULE_WINDOWS)


# ---------------------------------------------------------------------------------------------
# Level 2: chunks of a text


@pytest.mark.level(2)
def test_text_worked_example(impl):
    text = "The  quick brown\nfox jumps"
    expected = [("The  quick brown", 0, 16), ("brown\nfox jumps", 11, 26)]
    expect_chunks(impl, text, 3, 1, expected, on_raise=RULE_SPAN, rule=RULE_CHUNKS)


@pytest.mark.level(2)
def test_original_spacing_is_kept(impl):
    text = "alpha   beta\t\tgamma\n\ndelta  epsilon"
    rule = f"{RULE_SPACING}; {RULE_SPAN}"
    expect_chunks(impl, text, 4, 2, None, on_raise=RULE_SPACING, rule=rule)


@pytest.mark.level(2)
def test_leading_and_trailing_whitespace_is_not_in_any_chunk(impl):
    expected = [("one two", 4, 11), ("two three", 8, 17)]
    expect_chunks(
        impl, "  \n one two three \t ", 2, 1, expected, on_raise=RULE_SPAN, rule=RULE_SPAN
    )


@pytest.mark.level(2)
def test_offsets_are_str_indices_not_bytes(impl):
    # Non-ASCII letters, ASCII spaces only: a scan of the UTF-8 bytes finds the right words here, at
    # the wrong offsets. (Such a scan also misses Unicode whitespace, the next test's subject.)
    text = "héllo wörld café 東京 ok 🙂 end"
    rule = f"{RULE_OFFSETS}; {RULE_SPAN}"
    expect_chunks(impl, text, 2, 1, None, on_raise=RULE_OFFSETS, rule=rule)


@pytest.mark.level(2)
def test_unicode_whitespace_separates_words(impl):
    expected = [("東京\u3000大阪", 0, 5), ("大阪\xa0名古屋", 3, 9)]
    rule = f"{RULE_WORDS} ('\\u3000' and '\\xa0' are whitespace)"
    expect_chunks(impl, "東京\u3000大阪\xa0名古屋", 2, 1, expected, on_raise=RULE_WORDS, rule=rule)


@pytest.mark.level(2)
def test_whitespace_is_exactly_what_str_split_uses(impl):
    # \u2003 (em space), \x1f (unit separator) and \u2028 (line separator) are whitespace to
    # str.split(); \u200b (zero-width space) and \u00ad (soft hyphen) are not.
    text = "a\u2003b\x1fc\u2028d e\u200bf g\u00adh"
    rule = f"{RULE_WORDS} (the words are text.split() = {text.split()!r})"
    expect_chunks(impl, text, 2, 0, None, on_raise=RULE_WORDS, rule=rule)


@pytest.mark.level(2)
def test_repeated_words_get_their_own_offsets(impl):
    expected = [("to be", 0, 5), ("or not", 6, 12), ("to be", 13, 18)]
    rule = f"{RULE_SPAN} (a repeated word has its own offsets, not its first occurrence's)"
    expect_chunks(impl, "to be or not to be", 2, 0, expected, on_raise=RULE_SPAN, rule=rule)


@pytest.mark.level(2)
@pytest.mark.parametrize(
    "text", ["", "   ", "\n\t \u3000"], ids=["empty", "spaces", "mixed-whitespace"]
)
def test_text_without_words_gives_no_chunks(impl, text):
    expect_chunks(impl, text, 3, 1, [], on_raise=RULE_NO_WORDS, rule=RULE_NO_WORDS)


@pytest.mark.level(2)
def test_last_text_chunk_ends_at_the_last_word(impl):
    text = "one two three four five six"
    expected = [("one two three four", 0, 18), ("three four five six", 8, 27)]
    expect_chunks(impl, text, 4, 2, expected, on_raise=RULE_LAST, rule=f"{RULE_LAST}; {RULE_STOP}")


@pytest.mark.level(2)
@pytest.mark.parametrize(("size", "overlap"), BAD_ARGUMENTS[:4])
@pytest.mark.parametrize("text", ["a b c d e", ""], ids=["five-words", "empty"])
def test_text_bad_arguments_raise_value_error(impl, text, size, overlap):
    call = call_repr("chunk_text", text, size, overlap)
    expect_raises(ValueError, impl.chunk_text, text, size, overlap, call=call, rule=RULE_BAD)


WORD_CHARS = "abcXYZ09éüß東京🙂\u200b\u00ad-.'"
SPACE_CHARS = " \t\n\r\x0b\x0c\x1f\x85\xa0\u1680\u2003\u2028\u202f\u3000"
texts = st.lists(
    st.one_of(
        st.text(alphabet=WORD_CHARS, min_size=1, max_size=5),
        st.text(alphabet=SPACE_CHARS, min_size=1, max_size=3),
    ),
    max_size=14,
).map("".join)


@pytest.mark.level(2)
@given(text=texts, size=st.integers(1, 6), data=st.data())
def test_text_chunks_match_the_word_scan(impl, text, size, data):
    overlap = data.draw(st.integers(0, size - 1), label="overlap")
    call, result = run_chunk_text(impl, text, size, overlap, rule=RULE_SPAN)
    for got_text, start, end in result:
        if not isinstance(start, int) or not isinstance(end, int) or text[start:end] != got_text:
            fail(
                RULE_SPAN,
                call=call,
                expected=f"text[{start!r}:{end!r}] == {got_text!r}",
                actual=f"text[{start!r}:{end!r}] is {text[start:end]!r}"
                if isinstance(start, int) and isinstance(end, int)
                else f"start={start!r}, end={end!r}",
                show_values=False,
            )
    words = text.split()
    expected_windows = oracle_chunk(words, size, overlap)
    got_windows = [t.split() for t, _, _ in result]
    expect_equal(
        got_windows,
        expected_windows,
        call=call,
        rule=f"{RULE_WORDS}; the chunks' words are chunk(text.split(), size, overlap)",
    )
    expect_equal(
        result,
        oracle_chunk_text(text, size, overlap),
        call=call,
        rule=f"chunks as (text, start, end); {RULE_SPAN}; {RULE_SPACING}",
    )


@pytest.mark.level(2)
@given(text=texts, size=st.integers(1, 6), data=st.data())
def test_text_chunks_stitch_back_to_the_text(impl, text, size, data):
    overlap = data.draw(st.integers(0, size - 1), label="overlap")
    call, result = run_chunk_text(impl, text, size, overlap, rule=RULE_SPAN)
    if not result:
        expect_equal(text.split(), [], call=call, rule=f"{RULE_NO_WORDS} (and only such a text)")
        return
    # Merge the spans in order: each chunk must start inside or right after the previous one.
    start, end = result[0][1], result[0][2]
    for i, (_, s, e) in enumerate(result[1:], start=1):
        gap = text[end:s] if s >= end else ""
        if s < start or e <= end or (gap and not gap.isspace()):
            fail(
                f"{RULE_SHARE}: chunk {i} must start after chunk {i - 1} starts and end after it ends, "
                "with only whitespace between them",
                call=call,
                actual=result,
            )
        end = e
    stripped = text.strip()
    lead = len(text) - len(text.lstrip())
    expect_equal(
        (start, end),
        (lead, lead + len(stripped)),
        call=call,
        rule=f"{RULE_STITCH}: the chunks cover the text from its first word to its last",
    )

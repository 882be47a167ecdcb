"""Byte-pair encoding. Read README.md beside this file for the rules; `kata run bpe` grades you.

Pure Python, standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def train(word_freqs: Mapping[str, int], num_merges: int) -> list[tuple[str, str]]:
    """Learn up to `num_merges` merges from a word table.

    word_freqs: {word: frequency}, non-empty words, positive int frequencies. Words start as their
    characters. Each step: count adjacent pairs inside words (Σ frequency × positions, overlapping
    positions included), merge the highest count (ties: the least (left, right) tuple) into the
    symbol left + right in every word, left to right without overlap.
    Returns the merges in the order learned; fewer than num_merges when no word has two symbols.
    Level 4: 1,000 merges on a 1 MB corpus's table (12,000 words) within the time limit.
    """
    raise NotImplementedError("train: level 1")


def encode(text: str, merges: Sequence[tuple[str, str]]) -> list[str]:
    """Tokens of `text`: cut into chunks (maximal runs of whitespace / non-whitespace), each chunk
    split into characters, then every merge replayed in order within the chunk.

    "".join(encode(text, merges)) == text; encode("", merges) == [].
    """
    raise NotImplementedError("encode: level 2")


def decode(tokens: Sequence[str]) -> str:
    """The text of a token list: the tokens concatenated."""
    raise NotImplementedError("decode: level 2")


def train_bytes(word_freqs: Mapping[str, int], num_merges: int) -> list[tuple[int, int]]:
    """train() over the UTF-8 bytes of each word (ids 0-255); merge i creates id 256 + i.

    Ties go to the least (left id, right id). Returns (left id, right id) tuples in order.
    """
    raise NotImplementedError("train_bytes: level 3")


def encode_bytes(text: str, merges: Sequence[tuple[int, int]]) -> list[int]:
    """Token ids of `text`: the same chunks, each chunk's UTF-8 bytes, merges replayed in order
    (merge i replaces its pair by 256 + i)."""
    raise NotImplementedError("encode_bytes: level 3")


def decode_bytes(ids: Sequence[int], merges: Sequence[tuple[int, int]]) -> str:
    """The text of a list of ids (0 <= id < 256 + len(merges)): all their bytes joined, then
    decoded as UTF-8 with errors="replace"."""
    raise NotImplementedError("decode_bytes: level 3")

"""Overlapping chunker. Read README.md beside this file for the rules; `kata run chunker` grades you."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Chunk:
    """A chunk of a text (level 2), given: use it as is, or any class with these attributes.

    text: the chunk's text, exactly source[start:end] (original spacing kept).
    start, end: str offsets (code points, not bytes) into the source; end is exclusive.
    """

    text: str
    start: int
    end: int


def chunk(tokens: Sequence[T], size: int, overlap: int) -> list[list[T]]:
    """Split tokens into windows of `size` items, each starting `size - overlap` after the last.

    tokens: any sequence (list, tuple, str, range); each window is returned as a list.
    The last window ends at the last item and may be shorter; stop once a window reaches the end
    (no window lies wholly inside the previous one). Every item is covered. [] for empty input.
    Raises ValueError if size < 1, overlap < 0 or overlap >= size (even for empty input).
    """
    raise NotImplementedError("chunk: level 1")


def chunk_text(text: str, size: int, overlap: int) -> list[Chunk]:
    """Chunk a text by words: windows of `size` words sharing `overlap` words, as in chunk().

    Words are maximal runs of non-whitespace characters; whitespace is what str.split() splits
    on (str.isspace(): includes '\\xa0' and '\\u3000'). Each Chunk spans from its first word's
    first character to its last word's last character, original spacing kept:
    text[c.start:c.end] == c.text. [] for a text without words.
    Raises ValueError for bad size or overlap, as chunk() does.
    """
    raise NotImplementedError("chunk_text: level 2")

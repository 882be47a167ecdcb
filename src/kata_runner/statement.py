"""A kata's statement split into its introduction, its `## Level N: title` sections and its tail.

Interview mode shows the introduction and only the levels unlocked so far; the tail (sections after the
levels, such as "What the tests check") is shown once every level is unlocked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LEVEL_HEADING = re.compile(r"^## Level (\d+)\b.*$", re.MULTILINE)
ANY_HEADING = re.compile(r"^## .*$", re.MULTILINE)


@dataclass(frozen=True)
class Statement:
    intro: str
    levels: tuple[str, ...]  # the section of level n at index n - 1, heading included
    tail: str

    @classmethod
    def parse(cls, text: str) -> Statement:
        headings = list(ANY_HEADING.finditer(text))
        level_starts = [m for m in headings if LEVEL_HEADING.match(m.group(0))]
        if not level_starts:
            return cls(text, (), "")
        intro = text[: level_starts[0].start()]
        levels = []
        tail = ""
        for i, match in enumerate(level_starts):
            end = level_starts[i + 1].start() if i + 1 < len(level_starts) else len(text)
            section = text[match.start() : end]
            if i + 1 == len(level_starts):
                # after the last level, the next non-level heading starts the tail
                rest = [m for m in ANY_HEADING.finditer(section) if m.start() > 0]
                if rest:
                    tail = section[rest[0].start() :]
                    section = section[: rest[0].start()]
            levels.append(section)
        return cls(intro, tuple(levels), tail)

    def upto(self, level: int) -> str:
        """The statement with levels 1..level shown; every level shown includes the tail."""
        shown = self.levels[:level]
        text = self.intro + "".join(shown)
        if level >= len(self.levels):
            text += self.tail
        else:
            text += f"\n*Level {level + 1} unlocks when every test of level {level} passes.*\n"
        return text

    def level(self, number: int) -> str:
        return self.levels[number - 1]

"""Measure how long each test of each kata takes on the reference, for the start order of a run
with several jobs (`kata_runner.start_order`): `python benchmarks/durations.py [kata ...]`.

Writes `src/kata_runner/suites/durations.json`: for every kata, the tests that took at least
MIN_MS, in ms rounded to 10. Rerun it when a suite changes; a stale entry costs speed, never a
verdict.
"""

from __future__ import annotations

import argparse
import json
import sys

from kata_runner.attempt import read_attempt
from kata_runner.catalog import Catalog
from kata_runner.grading import grade
from kata_runner.start_order import DURATIONS_FILE, expected_durations, test_key

MIN_MS = 50


def measure(slug: str) -> dict[str, float]:
    kata = Catalog().get(slug)
    document = grade(read_attempt(kata, kata.solution_path), jobs=1).to_json()
    return {
        test_key(t["nodeid"]): round(t["duration_ms"], -1)
        for t in document["tests"]
        if t["duration_ms"] >= MIN_MS
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("katas", nargs="*", help="only these (default: every kata)")
    args = parser.parse_args()
    slugs = args.katas or Catalog().slugs()
    table = dict(expected_durations())
    for slug in slugs:
        print(f"{slug} ...", file=sys.stderr, flush=True)
        table[slug] = measure(slug)
    ordered = {slug: dict(sorted(table[slug].items())) for slug in sorted(table)}
    DURATIONS_FILE.write_text(json.dumps(ordered, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {DURATIONS_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

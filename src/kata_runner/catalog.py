"""The catalogue: find the katas, load each `kata.toml` strictly, and resolve slugs the user types.

A kata is a folder `katas/<slug>/` holding `README.md` (the statement), `kata.toml` (metadata) and
`<slug>.py` (the stub), with `solutions/<slug>.py` (the reference) and the hidden suite
`kata_runner/suites/test_<slug>.py`. In a source checkout the catalogue is read from the checkout; an
installed wheel carries a copy under `kata_runner/_catalog/`.
"""

from __future__ import annotations

import ast
import difflib
import os
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from kata_runner.errors import CatalogError, UsageError

PACKAGE_DIR = Path(__file__).resolve().parent
SUITES_DIR = PACKAGE_DIR / "suites"
FORMAT_VERSION = 1
KNOWN_REQUIREMENTS = ("numpy", "torch")
MIN_BUDGET, MAX_BUDGET = 25, 35
MIN_LEVELS, MAX_LEVELS = 2, 4
DEFAULT_REVIEW_MINUTES = 15
GIB = 1024**3


@dataclass(frozen=True)
class Level:
    """One gate of a kata: every test marked `level(number)` must pass to clear it."""

    number: int
    title: str


@dataclass(frozen=True)
class Hint:
    """A hint for one level, revealed in `kata.toml` order."""

    level: int
    text: str


@dataclass(frozen=True)
class Limits:
    """Resource limits for grading one attempt.

    per_test_seconds: soft limit per test, enforced in the child; the parent kills at this + grace.
    run_seconds: hard cap on a whole `kata run` (all children together).
    memory_bytes: address-space cap of the child, or None for no cap (torch reserves far more
        virtual memory than it uses, so torch katas get 4 GiB instead of 2).
    output_bytes: child stdout+stderr read by the parent before it stops the child.
    shown_output_chars: printed output shown per test.
    """

    per_test_seconds: float = 10.0
    run_seconds: float = 120.0
    memory_bytes: int | None = 2 * GIB
    output_bytes: int = 1024 * 1024
    shown_output_chars: int = 500

    def as_json(self) -> dict[str, Any]:
        return {
            "per_test_s": self.per_test_seconds,
            "run_s": self.run_seconds,
            "memory_bytes": self.memory_bytes,
            "output_bytes": self.output_bytes,
            "shown_output_chars": self.shown_output_chars,
        }


@dataclass(frozen=True)
class Benchmark:
    """A timing input for `kata compare`.

    setup: Python run once in the timing child; it builds the inputs (from a fixed seed) and may use
        `impl`, the module under test. call: an expression timed on those inputs. label: the size as
        shown to the user ("n=100,000").
    """

    label: str
    setup: str
    call: str
    repeat: int = 7
    warmup: int = 2


@dataclass(frozen=True)
class Kata:
    """Everything the runner knows about one kata. Paths are absolute."""

    slug: str
    title: str
    summary: str
    difficulty: int
    budget_minutes: int
    review_minutes: int
    tags: tuple[str, ...]
    requires: tuple[str, ...]
    levels: tuple[Level, ...]
    hints: tuple[Hint, ...]
    limits: Limits
    benchmark: Benchmark | None
    directory: Path
    solution_path: Path
    suite_path: Path = field(compare=False)

    @property
    def statement_path(self) -> Path:
        return self.directory / "README.md"

    @property
    def stub_path(self) -> Path:
        return self.directory / f"{self.slug}.py"

    @property
    def bugs_path(self) -> Path:
        """The bug set: plausible versions of the reference with one defect each (see `bugs.py`)."""
        return self.directory / "bugs.toml"

    @property
    def refactor_path(self) -> Path:
        """A correct but convoluted version for refactoring rounds, when the kata has one."""
        return self.directory / "refactor.py"

    @property
    def needs_torch(self) -> bool:
        return "torch" in self.requires

    @cached_property
    def public_names(self) -> tuple[str, ...]:
        """Top-level public names the stub defines (functions, classes, assignments), in order.

        Type variables (`T = TypeVar("T")`, `P = ParamSpec("P")`) are typing machinery, not part of the
        contract an attempt must keep.
        """
        tree = ast.parse(self.stub_path.read_text(encoding="utf-8"), str(self.stub_path))
        names: list[str] = []
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.append(node.name)
            elif isinstance(node, ast.Assign | ast.AnnAssign) and not _is_type_variable(node.value):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names.extend(t.id for t in targets if isinstance(t, ast.Name))
        return tuple(n for n in names if not n.startswith("_"))

    @cached_property
    def entry_points(self) -> tuple[str, ...]:
        """Every name through which the suite can call into an attempt: the public functions and
        classes and the methods of those classes (what the door labels a call with)."""
        tree = ast.parse(self.stub_path.read_text(encoding="utf-8"), str(self.stub_path))
        names: set[str] = set(self.public_names)
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                names.update(
                    item.name
                    for item in node.body
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                )
        return tuple(sorted(names))


def _is_type_variable(value: ast.expr | None) -> bool:
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    name = (
        func.id
        if isinstance(func, ast.Name)
        else func.attr
        if isinstance(func, ast.Attribute)
        else ""
    )
    return name in {"TypeVar", "ParamSpec", "TypeVarTuple", "NewType"}


# --------------------------------------------------------------------------------------------
# Strict loading


class StrictTable:
    """A TOML table being read: every key must be consumed, unknown keys are reported by name."""

    def __init__(self, data: Mapping[str, Any], where: str, path: Path) -> None:
        self.data, self.where, self.path = data, where, path
        self.allowed: list[str] = []

    def _fail(self, message: str) -> CatalogError:
        return CatalogError(f"{self.path}: {message}")

    def get(
        self,
        key: str,
        kind: type | tuple[type, ...],
        *,
        default: Any = ...,
        check: Callable[[Any], bool] | None = None,
        expect: str = "",
    ) -> Any:
        self.allowed.append(key)
        if key not in self.data:
            if default is ...:
                raise self._fail(
                    f"missing required key '{key}' in {self.where}; add it ({expect or kind})"
                )
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if not ok or (check is not None and not check(value)):
            raise self._fail(f"key '{key}' in {self.where} must be {expect or kind}, got {value!r}")
        return value

    def done(self) -> None:
        for key in self.data:
            if key not in self.allowed:
                close = difflib.get_close_matches(key, self.allowed, n=1)
                fix = (
                    f"did you mean '{close[0]}'?"
                    if close
                    else f"allowed keys: {', '.join(self.allowed)}"
                )
                raise self._fail(f"unknown key '{key}' in {self.where}; {fix}")


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def load_kata(directory: Path, solutions_dir: Path, suites_dir: Path = SUITES_DIR) -> Kata:
    """Load and validate `directory/kata.toml`; raise CatalogError naming the file, key and fix."""
    slug = directory.name
    path = directory / "kata.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"{path}: missing; every kata folder needs a kata.toml") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path}: not valid TOML ({exc})") from None

    top = StrictTable(raw, "the top level", path)
    version = top.get("format_version", int, expect=f"the integer {FORMAT_VERSION}")
    if version != FORMAT_VERSION:
        raise CatalogError(
            f"{path}: format_version {version} is not supported; use {FORMAT_VERSION}"
        )
    title = top.get("title", str, expect="a non-empty string", check=bool)
    summary = top.get("summary", str, expect="a non-empty string", check=bool)
    difficulty = top.get(
        "difficulty", int, expect="an integer from 1 to 5", check=lambda v: 1 <= v <= 5
    )
    budget = top.get(
        "budget_minutes",
        int,
        expect=f"an integer from {MIN_BUDGET} to {MAX_BUDGET}",
        check=lambda v: MIN_BUDGET <= v <= MAX_BUDGET,
    )
    review = top.get(
        "review_minutes",
        int,
        default=DEFAULT_REVIEW_MINUTES,
        expect="an integer from 5 to 30",
        check=lambda v: 5 <= v <= 30,
    )
    tags = top.get("tags", list, default=[], expect="a list of strings", check=_str_list)
    requires = top.get(
        "requires",
        list,
        expect=f"a list drawn from {list(KNOWN_REQUIREMENTS)}",
        check=lambda v: _str_list(v) and set(v) <= set(KNOWN_REQUIREMENTS),
    )

    raw_levels = top.get("levels", list, expect="an array of [[levels]] tables with `title`")
    levels = []
    for i, item in enumerate(raw_levels, start=1):
        table = StrictTable(item if isinstance(item, dict) else {}, f"[[levels]] #{i}", path)
        levels.append(
            Level(
                i,
                table.get(
                    "title",
                    str,
                    expect="a one-line string",
                    check=lambda v: bool(v) and "\n" not in v,
                ),
            )
        )
        table.done()
    if not MIN_LEVELS <= len(levels) <= MAX_LEVELS:
        raise CatalogError(
            f"{path}: a kata has {MIN_LEVELS} to {MAX_LEVELS} [[levels]], found {len(levels)}"
        )

    hints = []
    for i, item in enumerate(
        top.get("hints", list, default=[], expect="an array of [[hints]] tables"), start=1
    ):
        table = StrictTable(item if isinstance(item, dict) else {}, f"[[hints]] #{i}", path)
        level = table.get(
            "level",
            int,
            expect=f"a level number from 1 to {len(levels)}",
            check=lambda v: 1 <= v <= len(levels),
        )
        hints.append(
            Hint(level, table.get("text", str, expect="a non-empty string", check=bool).strip())
        )
        table.done()

    limits_table = StrictTable(
        top.get("limits", dict, default={}, expect="a [limits] table"), "[limits]", path
    )
    default_memory = 4 * GIB if "torch" in requires else 2 * GIB
    memory_mib = limits_table.get(
        "memory_mib",
        int,
        default=default_memory // 2**20,
        expect="an integer of MiB >= 256",
        check=lambda v: v >= 256,
    )
    limits = Limits(
        per_test_seconds=float(
            limits_table.get(
                "per_test_seconds",
                (int, float),
                default=10,
                expect="seconds > 0",
                check=lambda v: v > 0,
            )
        ),
        run_seconds=float(
            limits_table.get(
                "run_seconds",
                (int, float),
                default=120,
                expect="seconds > 0",
                check=lambda v: v > 0,
            )
        ),
        memory_bytes=memory_mib * 2**20,
    )
    limits_table.done()

    benchmark = None
    if "benchmark" in raw:
        bench = StrictTable(
            top.get("benchmark", dict, expect="a [benchmark] table"), "[benchmark]", path
        )
        benchmark = Benchmark(
            label=bench.get("label", str, expect="the input size as shown to users", check=bool),
            setup=bench.get("setup", str, expect="Python code that builds the inputs", check=bool),
            call=bench.get("call", str, expect="a Python expression using `impl`", check=bool),
            repeat=bench.get(
                "repeat",
                int,
                default=7,
                expect="an integer from 3 to 50",
                check=lambda v: 3 <= v <= 50,
            ),
            warmup=bench.get(
                "warmup",
                int,
                default=2,
                expect="an integer from 0 to 10",
                check=lambda v: 0 <= v <= 10,
            ),
        )
        bench.done()
    else:
        top.allowed.append("benchmark")
    top.done()

    kata = Kata(
        slug=slug,
        title=title,
        summary=summary,
        difficulty=difficulty,
        budget_minutes=budget,
        review_minutes=review,
        tags=tuple(tags),
        requires=tuple(requires),
        levels=tuple(levels),
        hints=tuple(hints),
        limits=limits,
        benchmark=benchmark,
        directory=directory.resolve(),
        solution_path=(solutions_dir / f"{slug}.py").resolve(),
        suite_path=(suites_dir / f"test_{slug}.py").resolve(),
    )
    for required, what in (
        (kata.statement_path, "the statement"),
        (kata.stub_path, "the stub"),
        (kata.solution_path, "the reference solution"),
        (kata.suite_path, "the hidden suite"),
    ):
        if not required.is_file():
            raise CatalogError(f"{path}: {what} {required} is missing")
    return kata


# --------------------------------------------------------------------------------------------
# The catalogue


def _default_roots() -> tuple[Path, Path, Path]:
    """katas/, solutions/ and suites/ to use: `$KATA_CATALOG` (a folder holding your own katas/,
    solutions/ and optionally suites/), else the catalogue bundled in the wheel, else the checkout's."""
    custom = os.environ.get("KATA_CATALOG")
    if custom:
        root = Path(custom).expanduser().resolve()
        suites = root / "suites" if (root / "suites").is_dir() else SUITES_DIR
        return root / "katas", root / "solutions", suites
    bundled = PACKAGE_DIR / "_catalog"
    if (bundled / "katas").is_dir():
        return bundled / "katas", bundled / "solutions", SUITES_DIR
    checkout = PACKAGE_DIR.parent.parent
    return checkout / "katas", checkout / "solutions", SUITES_DIR


class Catalog:
    """All katas, loaded lazily and validated strictly, in the order of `katas/ORDER` or by name."""

    def __init__(
        self,
        katas_dir: Path | None = None,
        solutions_dir: Path | None = None,
        suites_dir: Path | None = None,
    ) -> None:
        default_katas, default_solutions, default_suites = _default_roots()
        self.katas_dir = katas_dir or default_katas
        self.solutions_dir = solutions_dir or default_solutions
        self.suites_dir = suites_dir or default_suites
        self._cache: dict[str, Kata] = {}

    def slugs(self) -> list[str]:
        if not self.katas_dir.is_dir():
            raise CatalogError(f"{self.katas_dir}: the kata catalogue is missing; reinstall kata")
        found = sorted(p.name for p in self.katas_dir.iterdir() if (p / "kata.toml").is_file())
        order_file = self.katas_dir / "ORDER"
        if order_file.is_file():
            order = [line.strip() for line in order_file.read_text().splitlines() if line.strip()]
            return [s for s in order if s in found] + [s for s in found if s not in order]
        return found

    def get(self, slug: str) -> Kata:
        if slug not in self._cache:
            self._cache[slug] = load_kata(
                self.katas_dir / slug, self.solutions_dir, self.suites_dir
            )
        return self._cache[slug]

    def __iter__(self) -> Iterator[Kata]:
        return (self.get(slug) for slug in self.slugs())

    def resolve(self, typed: str) -> Kata:
        """The kata the user meant: exact slug, else a unique prefix; else UsageError with suggestions."""
        slugs = self.slugs()
        if typed in slugs:
            return self.get(typed)
        matches = [s for s in slugs if s.startswith(typed)] if typed else []
        if len(matches) == 1:
            return self.get(matches[0])
        if len(matches) > 1:
            raise UsageError(
                f"'{typed}' matches several katas: {', '.join(matches)}; type more of the name"
            )
        close = difflib.get_close_matches(typed, slugs, n=3, cutoff=0.6)
        if close:
            raise UsageError(
                f"no kata named '{typed}'; did you mean {' or '.join(repr(c) for c in close)}?"
            )
        raise UsageError(f"no kata named '{typed}'; `kata list` shows them all")

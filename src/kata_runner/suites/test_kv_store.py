"""Hidden suite for kv_store.

Oracle: `Model`, written here and sharing nothing with any solution. It is a stack of full copies of
the view: `views[-1]` is what reads see, `begin` pushes a copy, `commit` replaces the parent with the
top copy, `rollback` pops it. That is obviously right (a child's view is its parent's view plus its
own writes, and the parent cannot change while the child is open), and nothing like the overlays or
undo logs a candidate writes. A Hypothesis `RuleBasedStateMachine` per level drives the store and
the model side by side and compares every observable after every step.

Example tests call the store through `Traced`, which records the calls so that a failure shows the
whole program that led to it.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from kata_runner.testing import call_repr, expect_equal, expect_raises, fail, returns

# ---------------------------------------------------------------------------------------------
# The rules of the statement, as the failure messages name them

GET_MISSING = "rule: get of a key that is not set returns None"
SET_OVERWRITES = "rule: set overwrites (get returns the value set last)"
DELETE_RESULT = (
    "rule: delete returns True if the key existed (and removes it), False if it did not "
    "(and changes nothing)"
)
EMPTY_STRING = "rule: keys and values are any strings, the empty string included"
SEPARATE = "rule: each KVStore() is a separate, empty store"
COUNT = "rule: count(value) is the number of keys currently holding exactly value"
SCAN = (
    "rule: scan(prefix) lists every key that starts with prefix, as a list of (key, value) tuples"
)
SCAN_SORTED = "rule: scan is sorted by key, in plain Python string order"
SCAN_EMPTY_PREFIX = "rule: the empty prefix matches every key"
SCAN_DELETED = "rule: deleted keys are not listed by scan"
READ_VIEW = "rule: reads see the current view, including keys set before the transaction began"
COUNT_SCAN_VIEW = (
    "rule: count and scan see the same view as get (uncommitted sets and deletes count)"
)
ROLLBACK = "rule: rollback discards the innermost open transaction, its sets and its deletes"
ROLLBACK_DELETE = (
    "rule: rollback undoes a delete made inside the transaction (the value comes back)"
)
COMMIT_DELETE = (
    "rule: commit carries deletes made inside the transaction into the parent or the store"
)
COMMIT_INNERMOST = (
    "rule: commit closes only the innermost open transaction and merges it into its parent"
)
COMMIT_PARENT = (
    "rule: committed changes belong to the parent: rolling the parent back discards them"
)
DELETE_HIDES = "rule: a delete inside a transaction hides the key, including a value set outside it"
DELETE_IN_TXN = (
    "rule: inside a transaction, delete returns True if the key is visible in the current view"
)
NO_TXN = "rule: with no open transaction, commit and rollback raise TransactionError"
SNAPSHOT_VIEW = "rule: snapshot() records the current view, open transactions included"
SNAPSHOT_IDS = "rule: snapshot ids are 1, 2, 3, ... in the order taken, per store"
SNAPSHOT_COPY = "rule: a snapshot is a copy: writes after snapshot() never change it"
RESTORE = "rule: restore(id) makes the current view equal to the snapshot"
RESTORE_WRITE = (
    "rule: restore inside a transaction is a write of the innermost transaction: "
    "rollback undoes it, commit keeps it"
)
SNAPSHOT_NOT_TXN = (
    "rule: snapshots are not transactional: they survive rollback and restore does not use them up"
)
UNKNOWN_ID = "rule: restore with an unknown id raises KeyError and changes nothing"

# ---------------------------------------------------------------------------------------------
# The oracle


class Model:
    """A stack of full copies of the view. views[0] is the store; views[-1] is what reads see."""

    def __init__(self) -> None:
        self.views: list[dict[str, str]] = [{}]
        self.snapshots: list[dict[str, str]] = []

    @property
    def view(self) -> dict[str, str]:
        return self.views[-1]

    @property
    def depth(self) -> int:
        return len(self.views) - 1

    def set(self, key: str, value: str) -> None:
        self.view[key] = value

    def delete(self, key: str) -> bool:
        return self.view.pop(key, None) is not None

    def begin(self) -> None:
        self.views.append(dict(self.view))

    def commit(self) -> None:
        top = self.views.pop()
        self.views[-1] = top

    def rollback(self) -> None:
        self.views.pop()

    def count(self, value: str) -> int:
        return sum(1 for v in self.view.values() if v == value)

    def scan(self, prefix: str) -> list[tuple[str, str]]:
        return sorted((k, v) for k, v in self.view.items() if k.startswith(prefix))

    def snapshot(self) -> int:
        self.snapshots.append(dict(self.view))
        return len(self.snapshots)

    def restore(self, snapshot_id: int) -> None:
        self.views[-1] = dict(self.snapshots[snapshot_id - 1])


def describe_view(model: Model) -> str:
    open_ = {0: "no open transaction", 1: "1 open transaction"}.get(
        model.depth, f"{model.depth} open transactions"
    )
    return f"model view: {dict(sorted(model.view.items()))!r} ({open_})"


# ---------------------------------------------------------------------------------------------
# Calling the store with a record of the program

# A step is a call, (name, args), rendered `s.name(*args)`, or literal text. Rendering waits for
# a failure, so that recording costs next to nothing while Hypothesis runs and shrinks.
Step = tuple[str, tuple[Any, ...]] | str


def program_text(steps: list[Step]) -> str:
    shown = [s if isinstance(s, str) else call_repr(f"s.{s[0]}", *s[1]) for s in steps]
    if len(shown) > 40:
        shown = [*shown[:5], f"... {len(shown) - 30} more calls ...", *shown[-25:]]
    return "; ".join(shown)


class Traced:
    """The store under test, recording every call (`s.set('a', '1')`) for failure messages.

    It also counts open transactions. If commit or rollback raises TransactionError while some
    transaction should still be open, an earlier commit closed more than the innermost one.
    """

    def __init__(self, impl: ModuleType) -> None:
        self.impl = impl
        self.steps: list[Step] = ["s = KVStore()"]
        self.store = impl.KVStore()
        self.depth = 0

    @property
    def program(self) -> str:
        return program_text(self.steps)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.store, name)

        def call(*args: Any) -> Any:
            self.steps.append((name, args))
            if name in ("commit", "rollback") and self.depth > 0:
                closing(method, lambda: self.program, self.depth, self.impl.TransactionError)
                result = None
            else:
                rule = ON_RAISE.get(name, READ_VIEW if self.depth else GET)
                result = answer(method, *args, program=lambda: self.program, rule=rule)
            if name == "begin":
                self.depth += 1
            elif name in ("commit", "rollback"):
                self.depth -= 1
            return result

        return call

    def raises(self, exc_type: type[BaseException], name: str, *args: Any, rule: str) -> None:
        """s.name(*args) must raise exc_type."""
        self.steps.append((name, args))
        expect_raises(exc_type, getattr(self.store, name), *args, call=self.program, rule=rule)


def answer(fn: Callable[..., Any], *args: Any, program: Callable[[], str], rule: str) -> Any:
    """fn(*args), where an unexpected exception fails `rule` (through the toolkit's `returns`).
    The program is rendered only then: rendering it for every call would slow the machine down."""
    __tracebackhide__ = True
    try:
        return fn(*args)
    except (NotImplementedError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - reported as a failure of the rule being checked
        raised = exc

    def again() -> None:
        raise raised

    return returns(again, call=program(), rule=rule)


# The rule a call breaks when it raises where the statement expects an answer.
ON_RAISE = {
    "get": GET_MISSING,
    "set": SET_OVERWRITES,
    "delete": DELETE_RESULT,
    "count": COUNT,
    "scan": SCAN,
    "snapshot": SNAPSHOT_VIEW,
    "restore": RESTORE,
}


def closing(
    method: Callable[[], Any], program: Callable[[], str], depth: int, error: type[BaseException]
) -> None:
    """Call commit or rollback while `depth` transactions are open: TransactionError is a failure.

    If it raises TransactionError, an earlier commit closed more than the innermost transaction.
    """
    try:
        method()
        return
    except error as exc:
        raised = f"raised {type(exc).__name__}: {exc}"
    fail(  # outside the except block, so the report is not a chain of two tracebacks
        COMMIT_INNERMOST,
        call=program(),
        expected=f"{depth} transaction(s) still open, so the last call succeeds",
        actual=raised,
        detail="an earlier commit closed more than the innermost transaction",
        show_values=False,
    )


def check(s: Traced, actual: Any, expected: Any, rule: str) -> None:
    """Compare the answer of the last call in s's program with the expected one."""
    __tracebackhide__ = True
    expect_equal(actual, expected, call=s.program, rule=rule)


# ---------------------------------------------------------------------------------------------
# The state machine. Small universes, so that programs collide on keys, values and prefixes.

KEYS = ["", "a", "ab", "b", "B"]
VALUES = ["", "x", "y", "1"]
PREFIXES = ["", "a", "ab", "b", "B", "c"]
keys = st.sampled_from(KEYS)
values = st.sampled_from(VALUES)
MAX_DEPTH = 3
GET = "rule: get returns the value set last, or None if the key is not set or was deleted"


class KVMachine(RuleBasedStateMachine):
    """Random programs of the methods of levels 1..level, against the model, checked every step."""

    def __init__(self, impl: ModuleType, level: int) -> None:
        super().__init__()
        self.impl, self.level = impl, level
        self.store = impl.KVStore()
        self.model = Model()
        self.steps: list[Step] = ["s = KVStore()"]
        self.step_rule = SEPARATE

    # ---- plumbing

    def record(self, name: str, *args: Any, rule: str) -> None:
        self.steps.append((name, args))
        self.step_rule = rule

    def compare(self, actual: Any, expected: Any, *, rule: str, read: Step | None = None) -> None:
        """The store's answer to the last step (or to `read`, a call made after it) vs the model's.

        A wrong get after a step points at that step's rule (a rollback that lost a delete shows up
        as a wrong get); a wrong count, scan or return value points at its own rule first.
        """
        if type(actual) is type(expected) and actual == expected:
            return
        last = program_text([self.steps[-1]])
        if rule == self.step_rule:
            headline = rule
        elif read is not None and read[0] == "get":
            headline = f"{self.step_rule}\n  (broken by the last step, {last}; seen in: {rule})"
        else:
            headline = f"{rule}\n  (seen after the last step, {last}, where {self.step_rule})"
        fail(
            headline,
            call=program_text(self.steps if read is None else [*self.steps, read]),
            expected=f"{expected!r} (the model's answer)",
            actual=f"{actual!r} (your store's answer)",
            detail=describe_view(self.model),
            show_values=False,
        )

    def in_txn(self, plain: str, transactional: str) -> str:
        return transactional if self.model.depth > 0 else plain

    # ---- level 1

    @rule(key=keys, value=values)
    def set(self, key: str, value: str) -> None:
        self.record("set", key, value, rule=self.in_txn(SET_OVERWRITES, READ_VIEW))
        self.answer(self.store.set, key, value)
        self.model.set(key, value)

    @rule(key=keys)
    def delete(self, key: str) -> None:
        self.record("delete", key, rule=self.in_txn(DELETE_RESULT, DELETE_HIDES))
        actual = self.answer(self.store.delete, key)
        self.compare(actual, self.model.delete(key), rule=self.in_txn(DELETE_RESULT, DELETE_IN_TXN))

    # ---- level 3

    # Nesting stays shallow so that programs close what they open; test_three_hundred_nested_transactions
    # covers depth.
    @precondition(lambda self: self.level >= 3 and self.model.depth < MAX_DEPTH)
    @rule()
    def begin(self) -> None:
        self.record("begin", rule=READ_VIEW)
        self.answer(self.store.begin)
        self.model.begin()

    @precondition(lambda self: self.level >= 3 and self.model.depth > 0)
    @rule()
    def commit(self) -> None:
        self.record("commit", rule=f"{COMMIT_INNERMOST}; {COMMIT_DELETE}")
        closing(
            self.store.commit,
            lambda: program_text(self.steps),
            self.model.depth,
            self.impl.TransactionError,
        )
        self.model.commit()

    @precondition(lambda self: self.level >= 3 and self.model.depth > 0)
    @rule()
    def rollback(self) -> None:
        self.record("rollback", rule=ROLLBACK)
        closing(
            self.store.rollback,
            lambda: program_text(self.steps),
            self.model.depth,
            self.impl.TransactionError,
        )
        self.model.rollback()

    @precondition(lambda self: self.level >= 3 and self.model.depth == 0)
    @rule(name=st.sampled_from(["commit", "rollback"]))
    def close_with_nothing_open(self, name: str) -> None:
        self.record(name, rule=NO_TXN)
        expect_raises(
            self.impl.TransactionError,
            getattr(self.store, name),
            call=program_text(self.steps),
            rule=NO_TXN,
        )

    # ---- level 4

    @precondition(lambda self: self.level >= 4)
    @rule()
    def snapshot(self) -> None:
        self.record("snapshot", rule=self.in_txn(SNAPSHOT_COPY, SNAPSHOT_VIEW))
        snapshot_id = self.answer(self.store.snapshot)
        self.compare(snapshot_id, self.model.snapshot(), rule=SNAPSHOT_IDS)

    @precondition(lambda self: self.level >= 4 and len(self.model.snapshots) > 0)
    @rule(data=st.data())
    def restore(self, data: st.DataObject) -> None:
        snapshot_id = data.draw(st.integers(1, len(self.model.snapshots)), label="snapshot_id")
        self.record("restore", snapshot_id, rule=self.in_txn(RESTORE, RESTORE_WRITE))
        self.answer(self.store.restore, snapshot_id)
        self.model.restore(snapshot_id)

    @precondition(lambda self: self.level >= 4)
    @rule(ahead=st.sampled_from([0, 1]))
    def restore_an_unknown_id(self, ahead: int) -> None:
        snapshot_id = len(self.model.snapshots) + 1 if ahead else 0
        self.record("restore", snapshot_id, rule=UNKNOWN_ID)
        expect_raises(
            KeyError,
            self.store.restore,
            snapshot_id,
            call=program_text(self.steps),
            rule=UNKNOWN_ID,
        )

    # ---- every observable, after every step

    def answer(self, method: Callable[..., Any], *args: Any) -> Any:
        """The store's answer to the step just recorded; raising fails that step's rule."""
        return answer(method, *args, program=lambda: program_text(self.steps), rule=self.step_rule)

    def read(self, name: str, arg: str, expected: Any, rule: str) -> None:
        """store.name(arg) after the last step, compared with the model's `expected`."""
        program = lambda: program_text([*self.steps, (name, (arg,))])
        actual = answer(getattr(self.store, name), arg, program=program, rule=rule)
        self.compare(actual, expected, rule=rule, read=(name, (arg,)))

    @invariant()
    def observables_match_the_model(self) -> None:
        in_txn = self.model.depth > 0
        view = self.model.view
        for key in KEYS:
            self.read("get", key, view.get(key), READ_VIEW if in_txn else GET)
        if self.level < 2:
            return
        for value in VALUES:
            self.read("count", value, self.model.count(value), COUNT_SCAN_VIEW if in_txn else COUNT)
        for prefix in PREFIXES:
            rule = COUNT_SCAN_VIEW if in_txn else f"{SCAN}, sorted by key"
            self.read("scan", prefix, self.model.scan(prefix), rule)


def run_machine(impl: ModuleType, level: int, max_examples: int, steps: int) -> None:
    run_state_machine_as_test(
        lambda: KVMachine(impl, level),
        settings=settings(max_examples=max_examples, stateful_step_count=steps),
    )


# ---------------------------------------------------------------------------------------------
# Level 1: set, get, delete


@pytest.mark.level(1)
def test_get_returns_the_value_set_and_none_for_a_missing_key(impl):
    s = Traced(impl)
    check(s, s.get("a"), None, GET_MISSING)
    s.set("a", "1")
    check(s, s.get("a"), "1", "rule: get returns the value that set stored")
    check(s, s.get("b"), None, GET_MISSING)


@pytest.mark.level(1)
def test_set_overwrites(impl):
    s = Traced(impl)
    s.set("a", "1")
    s.set("b", "1")
    s.set("a", "2")
    check(s, s.get("a"), "2", SET_OVERWRITES)
    check(s, s.get("b"), "1", SET_OVERWRITES)


@pytest.mark.level(1)
def test_delete_returns_whether_the_key_existed(impl):
    s = Traced(impl)
    check(s, s.delete("a"), False, DELETE_RESULT)
    check(s, s.get("a"), None, DELETE_RESULT)
    s.set("a", "1")
    s.set("b", "2")
    check(s, s.delete("a"), True, DELETE_RESULT)
    check(s, s.get("a"), None, DELETE_RESULT)
    check(s, s.delete("a"), False, DELETE_RESULT)
    check(s, s.get("b"), "2", DELETE_RESULT)


@pytest.mark.level(1)
def test_a_deleted_key_can_be_set_again(impl):
    s = Traced(impl)
    s.set("a", "1")
    s.delete("a")
    s.set("a", "3")
    check(s, s.get("a"), "3", SET_OVERWRITES)
    check(s, s.delete("a"), True, DELETE_RESULT)


@pytest.mark.level(1)
def test_the_empty_string_is_a_valid_key_and_value(impl):
    s = Traced(impl)
    s.set("", "")
    check(s, s.get(""), "", EMPTY_STRING)
    s.set("k", "")
    check(s, s.get("k"), "", EMPTY_STRING)
    check(s, s.delete("k"), True, EMPTY_STRING)
    check(s, s.get("k"), None, EMPTY_STRING)
    check(s, s.delete(""), True, EMPTY_STRING)
    check(s, s.delete(""), False, EMPTY_STRING)


@pytest.mark.level(1)
def test_each_store_is_separate_and_starts_empty(impl):
    first = Traced(impl)
    first.set("a", "1")
    second = Traced(impl)
    second.steps[0] = "first = KVStore(); first.set('a', '1'); s = KVStore()"
    check(second, second.get("a"), None, SEPARATE)
    second.set("a", "2")
    first.steps.append("(a second store s2 did s2.set('a', '2'))")
    check(first, first.get("a"), "1", SEPARATE)


@pytest.mark.level(1)
def test_random_programs_of_set_get_delete_match_a_dict(impl):
    run_machine(impl, level=1, max_examples=40, steps=20)


# ---------------------------------------------------------------------------------------------
# Level 2: count and scan


@pytest.mark.level(2)
def test_count_counts_the_keys_holding_a_value(impl):
    s = Traced(impl)
    check(s, s.count("x"), 0, COUNT)
    for key, value in [("a", "x"), ("b", "x"), ("c", "y"), ("d", "x")]:
        s.set(key, value)
    check(s, s.count("x"), 3, COUNT)
    check(s, s.count("y"), 1, COUNT)
    check(s, s.count("z"), 0, COUNT)
    s.set("a", "y")
    check(s, s.count("x"), 2, COUNT + " (an overwritten key no longer counts)")
    check(s, s.count("y"), 2, COUNT)
    s.delete("b")
    check(s, s.count("x"), 1, COUNT + " (a deleted key no longer counts)")
    s.set("a", "y")
    check(s, s.count("y"), 2, COUNT + " (setting the same value again does not count twice)")


def check_scan(s: Traced, actual: Any, expected: list[tuple[str, str]], rule: str) -> None:
    """scan's answer: the right (key, value) tuples under `rule`, then, only if they are all
    there, their order under the sort rule, so a wrong filter is not reported as a wrong order."""
    __tracebackhide__ = True
    try:
        same_items = sorted(actual) == sorted(expected)
    except TypeError:
        same_items = False
    check(s, actual, expected, SCAN_SORTED if same_items else rule)


@pytest.mark.level(2)
def test_scan_filters_by_prefix_and_sorts_by_key(impl):
    s = Traced(impl)
    for key, value in [("b", "x"), ("ab", "y"), ("abc", "z"), ("a", "x"), ("B", "x"), ("ba", "w")]:
        s.set(key, value)
    check_scan(s, s.scan("a"), [("a", "x"), ("ab", "y"), ("abc", "z")], SCAN)
    check_scan(
        s, s.scan("ab"), [("ab", "y"), ("abc", "z")], SCAN + " (a key equal to the prefix matches)"
    )
    check_scan(s, s.scan("b"), [("b", "x"), ("ba", "w")], SCAN + " (prefixes are case-sensitive)")
    check_scan(s, s.scan("c"), [], SCAN + " (no key matches: an empty list)")


@pytest.mark.level(2)
def test_scan_sorts_in_plain_string_order(impl):
    s = Traced(impl)
    for key in ["b", "a10", "B", "a9", "a", "_", "ab"]:
        s.set(key, key.upper())
    expected = [(k, k.upper()) for k in ["B", "_", "a", "a10", "a9", "ab", "b"]]
    check(s, s.scan(""), expected, SCAN_SORTED + " (by code point: 'B' < '_' < 'a' < 'a10' < 'a9')")


@pytest.mark.level(2)
def test_scan_with_the_empty_prefix_returns_everything(impl):
    s = Traced(impl)
    check(s, s.scan(""), [], SCAN_EMPTY_PREFIX + " (an empty store gives [])")
    s.set("k", "1")
    s.set("", "0")
    check(s, s.scan(""), [("", "0"), ("k", "1")], SCAN_EMPTY_PREFIX)


@pytest.mark.level(2)
def test_scan_returns_a_list_of_tuples(impl):
    s = Traced(impl)
    s.set("a", "1")
    result = s.scan("")
    if not isinstance(result, list) or not all(isinstance(item, tuple) for item in result):
        fail(
            SCAN,
            call=s.program,
            expected="[('a', '1')] (a list of tuples)",
            actual=f"{result!r} ({type(result).__name__} of {', '.join(sorted({type(i).__name__ for i in result}))})",
            show_values=False,
        )
    check(s, result, [("a", "1")], SCAN)


@pytest.mark.level(2)
def test_scan_does_not_list_deleted_keys(impl):
    s = Traced(impl)
    s.set("a", "1")
    s.set("ab", "2")
    s.set("b", "3")
    s.delete("ab")
    check(s, s.scan("a"), [("a", "1")], SCAN_DELETED)
    check(s, s.scan(""), [("a", "1"), ("b", "3")], SCAN_DELETED)


@pytest.mark.level(2)
@settings(max_examples=60)
@given(
    writes=st.lists(
        st.tuples(st.text("aAb._", max_size=4), st.one_of(st.none(), st.text("xy", max_size=2))),
        max_size=30,
    ),
    prefix=st.text("aAb._", max_size=2),
    value=st.text("xy", max_size=2),
)
def test_scan_and_count_match_a_dict_after_random_writes(impl, writes, prefix, value):
    # A None value means delete.
    s, model = Traced(impl), {}
    for key, val in writes:
        if val is None:
            s.delete(key)
            model.pop(key, None)
        else:
            s.set(key, val)
            model[key] = val
    expected_scan = sorted((k, v) for k, v in model.items() if k.startswith(prefix))
    check(s, s.scan(prefix), expected_scan, f"{SCAN}, sorted by key")
    s.steps.pop()
    check(s, s.count(value), sum(1 for v in model.values() if v == value), COUNT)


@pytest.mark.level(2)
def test_count_and_scan_on_a_store_of_20000_keys(impl):
    store = impl.KVStore()
    for i in range(20_000):
        store.set(f"key{i:05d}", f"v{i % 7}")
    for i in range(0, 20_000, 3):
        store.delete(f"key{i:05d}")
    call = "20,000 keys key00000..key19999 with value f'v{i % 7}', every third deleted; "
    for v in range(7):
        expected = sum(1 for i in range(20_000) if i % 3 and i % 7 == v)
        expect_equal(store.count(f"v{v}"), expected, call=call + f"count('v{v}')", rule=COUNT)
    expected_scan = [(f"key{i:05d}", f"v{i % 7}") for i in range(1230, 1240) if i % 3]
    expect_equal(
        store.scan("key0123"),
        expected_scan,
        call=call + "scan('key0123')",
        rule=f"{SCAN}, sorted by key",
    )
    expect_equal(
        len(store.scan("")), 20_000 - 6667, call=call + "len(scan(''))", rule=SCAN_EMPTY_PREFIX
    )


@pytest.mark.level(2)
def test_random_programs_with_count_and_scan_match_a_dict(impl):
    run_machine(impl, level=2, max_examples=40, steps=20)


# ---------------------------------------------------------------------------------------------
# Level 3: nested transactions


@pytest.mark.level(3)
def test_reads_inside_a_transaction_see_keys_set_before_it(impl):
    s = Traced(impl)
    s.set("a", "1")
    s.set("b", "2")
    s.begin()
    check(s, s.get("a"), "1", READ_VIEW)
    s.set("b", "3")
    s.begin()
    check(s, s.get("a"), "1", READ_VIEW)
    check(s, s.get("b"), "3", READ_VIEW + " (the innermost write wins)")
    s.set("c", "4")
    check(s, s.get("c"), "4", READ_VIEW)


@pytest.mark.level(3)
def test_count_and_scan_see_the_transaction_view(impl):
    s = Traced(impl)
    s.set("a", "x")
    s.set("b", "x")
    s.begin()
    s.set("c", "x")
    check(s, s.count("x"), 3, COUNT_SCAN_VIEW)
    s.set("a", "y")
    check(s, s.count("x"), 2, COUNT_SCAN_VIEW)
    check(s, s.count("y"), 1, COUNT_SCAN_VIEW)
    s.begin()
    check(s, s.delete("b"), True, DELETE_IN_TXN + " ('b' was set before the transaction)")
    check(
        s, s.count("x"), 1, COUNT_SCAN_VIEW + " (a key deleted in the transaction no longer counts)"
    )
    check(s, s.scan(""), [("a", "y"), ("c", "x")], COUNT_SCAN_VIEW)
    s.rollback()
    # get first: a wrong get is the rollback's fault; a wrong count with right gets is count's.
    check(s, s.get("b"), "x", ROLLBACK_DELETE)
    check(s, s.count("x"), 2, COUNT_SCAN_VIEW)
    check(s, s.scan(""), [("a", "y"), ("b", "x"), ("c", "x")], COUNT_SCAN_VIEW)
    s.rollback()
    check(s, s.get("a"), "x", ROLLBACK)
    check(s, s.get("c"), None, ROLLBACK)
    check(s, s.count("x"), 2, COUNT_SCAN_VIEW)
    check(s, s.count("y"), 0, COUNT_SCAN_VIEW)


@pytest.mark.level(3)
def test_rollback_discards_only_the_innermost_transaction(impl):
    s = Traced(impl)
    s.set("a", "1")
    s.begin()
    s.set("a", "2")
    s.set("b", "2")
    s.begin()
    s.set("a", "3")
    s.set("c", "3")
    s.rollback()
    check(s, s.get("a"), "2", ROLLBACK + " (the outer transaction's write stays)")
    check(s, s.get("c"), None, ROLLBACK)
    check(s, s.get("b"), "2", ROLLBACK)
    s.rollback()
    check(s, s.get("a"), "1", ROLLBACK)
    check(s, s.get("b"), None, ROLLBACK)


@pytest.mark.level(3)
def test_rollback_brings_back_a_key_deleted_inside_the_transaction(impl):
    s = Traced(impl)
    s.set("a", "1")
    s.set("b", "2")
    s.begin()
    check(s, s.delete("a"), True, DELETE_IN_TXN)
    check(s, s.get("a"), None, DELETE_HIDES)
    s.rollback()
    check(s, s.get("a"), "1", ROLLBACK_DELETE)
    check(s, s.scan(""), [("a", "1"), ("b", "2")], ROLLBACK_DELETE)
    s.begin()
    s.begin()
    s.delete("b")
    s.commit()
    check(s, s.get("b"), None, COMMIT_DELETE)
    s.rollback()
    check(s, s.get("b"), "2", COMMIT_PARENT + " (a delete committed into the outer transaction)")


@pytest.mark.level(3)
def test_delete_hides_a_value_set_outside_the_transaction(impl):
    s = Traced(impl)
    s.set("a", "1")
    s.begin()
    s.set("a", "2")
    s.begin()
    s.delete("a")
    check(s, s.get("a"), None, DELETE_HIDES)
    check(s, s.scan("a"), [], DELETE_HIDES)
    s.set("a", "3")
    check(s, s.get("a"), "3", SET_OVERWRITES)


@pytest.mark.level(3)
def test_commit_keeps_deletes_made_inside_the_transaction(impl):
    s = Traced(impl)
    s.set("a", "1")
    s.set("b", "2")
    s.begin()
    s.begin()
    s.delete("a")
    s.commit()
    check(s, s.get("a"), None, COMMIT_DELETE + " (into the parent transaction)")
    s.delete("b")
    s.commit()
    check(s, s.get("a"), None, COMMIT_DELETE + " (into the store)")
    check(s, s.get("b"), None, COMMIT_DELETE + " (into the store)")
    check(s, s.scan(""), [], COMMIT_DELETE)
    check(s, s.delete("a"), False, DELETE_RESULT)


@pytest.mark.level(3)
def test_commit_merges_only_the_innermost_transaction_into_its_parent(impl):
    s = Traced(impl)
    s.set("a", "1")
    s.begin()
    s.set("a", "2")
    s.begin()
    s.set("b", "3")
    s.commit()
    check(s, s.get("a"), "2", READ_VIEW)
    check(s, s.get("b"), "3", COMMIT_INNERMOST)
    s.rollback()  # fails through `closing` if the commit closed both transactions
    check(s, s.get("b"), None, COMMIT_PARENT)
    check(s, s.get("a"), "1", COMMIT_PARENT)
    s.raises(impl.TransactionError, "rollback", rule=NO_TXN)


@pytest.mark.level(3)
def test_commit_of_the_outermost_transaction_writes_the_store(impl):
    s = Traced(impl)
    s.set("a", "1")
    s.begin()
    s.set("a", "2")
    s.set("b", "2")
    s.commit()
    check(s, s.get("a"), "2", "rule: commit of the outermost transaction merges it into the store")
    check(
        s,
        s.scan(""),
        [("a", "2"), ("b", "2")],
        "rule: commit of the outermost transaction merges it into the store",
    )
    s.raises(
        impl.TransactionError, "rollback", rule=NO_TXN + " (the commit closed the only transaction)"
    )


@pytest.mark.level(3)
def test_delete_inside_a_transaction_returns_whether_the_key_is_visible(impl):
    s = Traced(impl)
    s.set("a", "1")
    s.begin()
    check(s, s.delete("a"), True, DELETE_IN_TXN + " ('a' was set before the transaction)")
    check(s, s.delete("a"), False, DELETE_IN_TXN + " ('a' is already deleted in this view)")
    check(s, s.delete("zz"), False, DELETE_IN_TXN + " ('zz' was never set)")
    s.begin()
    check(s, s.delete("a"), False, DELETE_IN_TXN + " ('a' was deleted by the outer transaction)")
    s.set("a", "2")
    check(s, s.delete("a"), True, DELETE_IN_TXN)


@pytest.mark.level(3)
@pytest.mark.parametrize("name", ["commit", "rollback"])
def test_commit_and_rollback_with_no_open_transaction_raise(impl, name):
    s = Traced(impl)
    s.set("a", "1")
    s.raises(impl.TransactionError, name, rule=NO_TXN)
    check(s, s.scan(""), [("a", "1")], NO_TXN + " and change nothing")
    s.begin()
    s.commit()
    s.raises(impl.TransactionError, name, rule=NO_TXN + " (every transaction is closed again)")


@pytest.mark.level(3)
def test_three_hundred_nested_transactions(impl):
    store = impl.KVStore()
    depth = 300
    store.set("base", "0")
    for i in range(1, depth + 1):
        store.begin()
        store.set("level", str(i))
        store.set(f"k{i}", "x")
    call = f"{depth} nested transactions, the i-th sets 'level' = str(i) and 'k{{i}}' = 'x'"
    expect_equal(store.get("base"), "0", call=call + "; get('base')", rule=READ_VIEW)
    expect_equal(store.count("x"), depth, call=call + "; count('x')", rule=COUNT_SCAN_VIEW)
    for i in range(depth, 100, -1):
        done = f"; then {depth - i + 1} rollbacks"
        closing(store.rollback, lambda: call + done, i, impl.TransactionError)
        expect_equal(
            store.get("level"), str(i - 1), call=call + done + "; get('level')", rule=ROLLBACK
        )
    for i in range(100, 0, -1):
        done = f"; then 200 rollbacks and {101 - i} commits"
        closing(store.commit, lambda: call + done, i, impl.TransactionError)
    call += "; then 200 rollbacks and 100 commits"
    expect_equal(store.get("level"), "100", call=call + "; get('level')", rule=COMMIT_INNERMOST)
    expect_equal(store.count("x"), 100, call=call + "; count('x')", rule=COUNT_SCAN_VIEW)
    expect_raises(impl.TransactionError, store.commit, call=call + "; commit()", rule=NO_TXN)


operations = st.one_of(
    st.tuples(st.just("set"), keys, values),
    st.tuples(st.just("delete"), keys),
    st.sampled_from([("begin",), ("commit",), ("rollback",)]),
)


def balanced(steps: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Drop each commit or rollback with no begin of the program's own to close; commit what is left open."""
    kept: list[tuple[Any, ...]] = []
    depth = 0
    for step in steps:
        if step[0] in ("commit", "rollback"):
            if depth == 0:
                continue
            depth -= 1
        elif step[0] == "begin":
            depth += 1
        kept.append(step)
    return kept + [("commit",)] * depth


def programs(max_size: int = 14) -> st.SearchStrategy[list[tuple[Any, ...]]]:
    """Writes with nested begin/commit/rollback that close only transactions they opened."""
    return st.lists(operations, max_size=max_size).map(balanced)


def run_program(s: Traced, program: list[tuple[Any, ...]]) -> None:
    for name, *args in program:
        getattr(s, name)(*args)


def write_only(program: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The writes the program keeps once every transaction in it is closed: drop what rollbacks undo."""
    kept: list[list[tuple[Any, ...]]] = [[]]
    for step in program:
        if step[0] == "begin":
            kept.append([])
        elif step[0] == "commit":
            top = kept.pop()
            kept[-1].extend(top)
        elif step[0] == "rollback":
            kept.pop()
        else:
            kept[-1].append(step)
    return kept[0]


@pytest.mark.level(3)
@settings(max_examples=60)
@given(before=programs(max_size=8), inside=programs())
def test_rollback_undoes_any_program(impl, before, inside):
    s = Traced(impl)
    run_program(s, before)
    view_before, x_before = s.scan(""), s.count("x")
    s.begin()
    run_program(s, inside)
    s.rollback()
    check(s, s.scan(""), view_before, ROLLBACK + " (the store is back to what it was before begin)")
    check(s, s.count("x"), x_before, ROLLBACK + " (count is back to what it was before begin)")


@pytest.mark.level(3)
@settings(max_examples=60)
@given(before=programs(max_size=8), inside=programs())
def test_commit_equals_making_the_writes_directly(impl, before, inside):
    direct = Traced(impl)
    run_program(direct, before + write_only(inside))
    s = Traced(impl)
    run_program(s, before)
    s.begin()
    run_program(s, inside)
    s.commit()
    expected = direct.scan("")
    check(
        s,
        s.scan(""),
        expected,
        f"{COMMIT_INNERMOST}; {COMMIT_DELETE} (the store must equal one where the "
        f"kept writes were made with no transaction: {direct.program})",
    )
    check(s, s.count("x"), direct.count("x"), COUNT_SCAN_VIEW)


@pytest.mark.level(3)
def test_random_programs_with_nested_transactions_match_the_model(impl):
    run_machine(impl, level=3, max_examples=150, steps=20)


# ---------------------------------------------------------------------------------------------
# Level 4: snapshots


@pytest.mark.level(4)
def test_snapshot_ids_count_up_from_one(impl):
    s = Traced(impl)
    check(s, s.snapshot(), 1, SNAPSHOT_IDS)
    s.set("a", "1")
    check(s, s.snapshot(), 2, SNAPSHOT_IDS)
    s.restore(1)
    check(s, s.snapshot(), 3, SNAPSHOT_IDS + " (restore does not take a snapshot)")
    other = Traced(impl)
    other.steps[0] = "(another store took 3 snapshots); s = KVStore()"
    check(other, other.snapshot(), 1, SNAPSHOT_IDS + " (each store counts its own)")


@pytest.mark.level(4)
def test_a_snapshot_is_a_copy(impl):
    # Only values change after the snapshot, no key comes or goes: a restore that only sets the
    # snapshot's values is enough here, so this test fails only for a snapshot that is not a copy.
    s = Traced(impl)
    s.set("a", "1")
    s.set("b", "1")
    first = s.snapshot()
    s.set("a", "2")
    s.set("b", "3")
    s.restore(first)
    check(s, s.scan(""), [("a", "1"), ("b", "1")], SNAPSHOT_COPY)


@pytest.mark.level(4)
def test_restore_makes_the_view_equal_to_the_snapshot(impl):
    s = Traced(impl)
    s.set("a", "1")
    s.set("b", "x")
    first = s.snapshot()
    s.set("a", "2")
    s.delete("b")
    s.set("c", "x")
    s.restore(first)
    check(
        s, s.scan(""), [("a", "1"), ("b", "x")], RESTORE + " (keys not in the snapshot are deleted)"
    )
    check(s, s.get("c"), None, RESTORE)
    check(s, s.count("x"), 1, RESTORE)
    check(s, s.delete("c"), False, RESTORE)


@pytest.mark.level(4)
def test_snapshot_inside_a_transaction_records_the_current_view(impl):
    s = Traced(impl)
    s.set("a", "1")
    s.set("b", "1")
    s.begin()
    s.set("a", "2")
    s.delete("b")
    inner = s.snapshot()
    s.commit()
    s.set("c", "3")
    s.restore(inner)
    check(s, s.scan(""), [("a", "2")], SNAPSHOT_VIEW)


@pytest.mark.level(4)
def test_restore_inside_a_transaction_is_undone_by_rollback_and_kept_by_commit(impl):
    s = Traced(impl)
    s.set("a", "1")
    first = s.snapshot()
    s.set("a", "2")
    s.set("b", "2")
    s.begin()
    s.restore(first)
    check(s, s.scan(""), [("a", "1")], RESTORE)
    s.rollback()
    check(s, s.scan(""), [("a", "2"), ("b", "2")], RESTORE_WRITE)
    check(s, s.count("2"), 2, RESTORE_WRITE)
    s.begin()
    s.begin()
    s.restore(first)
    s.commit()
    check(s, s.scan(""), [("a", "1")], RESTORE_WRITE)
    s.commit()
    check(s, s.scan(""), [("a", "1")], RESTORE_WRITE)
    s.raises(
        impl.TransactionError,
        "rollback",
        rule=NO_TXN + " (a restore does not open or close transactions)",
    )


@pytest.mark.level(4)
def test_snapshots_survive_rollback_and_restore(impl):
    s = Traced(impl)
    s.begin()
    s.set("a", "1")
    inner = s.snapshot()
    s.rollback()
    check(s, s.get("a"), None, ROLLBACK)
    s.set("b", "2")
    s.restore(inner)
    check(s, s.scan(""), [("a", "1")], SNAPSHOT_NOT_TXN)
    s.set("a", "9")
    s.restore(inner)
    check(s, s.scan(""), [("a", "1")], SNAPSHOT_NOT_TXN + " (restore the same id again)")


@pytest.mark.level(4)
@pytest.mark.parametrize("snapshot_id", [0, -1, 2, 3])
def test_restore_of_an_unknown_id_raises_key_error_and_changes_nothing(impl, snapshot_id):
    s = Traced(impl)
    s.set("a", "1")
    s.snapshot()
    s.set("a", "2")
    s.raises(KeyError, "restore", snapshot_id, rule=UNKNOWN_ID)
    check(s, s.scan(""), [("a", "2")], UNKNOWN_ID)


@pytest.mark.level(4)
@settings(max_examples=60)
@given(before=programs(max_size=10), after=programs(), in_txn=st.booleans())
def test_restore_returns_to_the_snapshot_after_any_program(impl, before, after, in_txn):
    model: dict[str, str] = {}
    for name, *args in write_only(before):
        if name == "set":
            model[args[0]] = args[1]
        else:
            model.pop(args[0], None)
    s = Traced(impl)
    run_program(s, before)
    snapshot_id = s.snapshot()
    run_program(s, after)
    if in_txn:
        s.begin()
    s.restore(snapshot_id)
    check(s, s.scan(""), sorted(model.items()), RESTORE)
    check(s, s.count("x"), sum(1 for v in model.values() if v == "x"), RESTORE)


@pytest.mark.level(4)
def test_random_programs_with_snapshots_match_the_model(impl):
    run_machine(impl, level=4, max_examples=150, steps=20)

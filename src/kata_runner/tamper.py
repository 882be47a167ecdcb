"""Tamper evidence: references to everything a verdict relies on, taken before the attempt is imported
and checked after every test.

The snapshot holds, by identity, every function and class of the modules that judge (pytest, pluggy,
Hypothesis, numpy, torch, math, json, builtins, the kata runner and the suite itself) and every
attribute of the Python classes defined there (`Function.runtest`, `TestReport`, `Fraction.__eq__`,
`torch.Tensor.__eq__`...), the modules' places in `sys.modules`, the harness's signal handlers and the
absence of a trace function. A name added later does not matter; a name replaced or removed does.

This is evidence, not prevention: code in the same process can defeat any check it can read. It turns
the ways of forging a pass that we know of into `tampering_suspected` instead of a cleared level.
"""

from __future__ import annotations

import array
import ctypes
import gc
import itertools
import operator
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import BuiltinFunctionType, FunctionType, ModuleType
from typing import Any

JUDGING_PREFIXES = ("_pytest", "pytest", "pluggy", "hypothesis", "_hypothesis", "kata_runner")
# numpy and torch are large: the modules and classes the suites' comparisons go through
JUDGING_LIBRARY_MODULES = (
    "numpy", "numpy.linalg", "numpy.testing", "numpy.random", "numpy.lib.stride_tricks",
    "torch", "torch.nn", "torch.nn.functional", "torch.testing", "torch.autograd",
    "torch._tensor", "torch.nn.modules.module", "torch.nn.parameter", "torch.nn.modules.linear",
)  # fmt: skip
JUDGING_MODULES = (
    "builtins", "math", "cmath", "json", "os", "sys", "time", "signal", "hmac", "hashlib", "socket",
    "select", "struct", "threading", "traceback", "random", "fractions", "decimal", "operator",
    "functools", "itertools", "collections", "copy", "re", "inspect", "io", "types", "statistics",
    "heapq", "bisect", "difflib", "reprlib", "weakref", "warnings", "contextlib", "asyncio",
    "numbers", "abc", "enum", "dataclasses", "mmap",
)  # fmt: skip
MAX_SHOWN = 3
# dunders Python itself adds to a class after it is made (`cls.__annotations__` read, pickled...)
LAZY_CLASS_ATTRIBUTES = frozenset(
    {"__annotations__", "__slotnames__", "__abstractmethods__", "__orig_bases__", "__parameters__"}
)
HEAP_TYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE


def _judging(name: str, suite_modules: tuple[str, ...]) -> bool:
    return (
        name in JUDGING_MODULES
        or name in JUDGING_LIBRARY_MODULES
        or name in suite_modules
        or any(name == p or name.startswith(p + ".") for p in JUDGING_PREFIXES)
    )


NUMPY_CALLABLES = ("ufunc", "_ArrayFunctionDispatcher")  # np.add, np.linalg.norm, np.allclose...


def _watch(value: Any) -> bool:
    return isinstance(value, (type, ModuleType, FunctionType, BuiltinFunctionType)) or (
        type(value).__module__ == "numpy" and type(value).__name__ in NUMPY_CALLABLES
    )


@dataclass
class Snapshot:
    """Expected identities: (namespace owner, name) -> object, for modules and classes."""

    module_entries: list[tuple[ModuleType, str, Any]] = field(default_factory=list)
    class_entries: list[tuple[type, str, Any]] = field(default_factory=list)
    modules: dict[str, ModuleType] = field(default_factory=dict)
    handlers: dict[int, Any] = field(default_factory=dict)
    plugins: list[Any] = field(default_factory=list)
    hookimpls: dict[str, list[Any]] = field(default_factory=dict)
    pluginmanager: Any = None
    # the same entries grouped by namespace, for a check in C: (namespace, names, values)
    groups: list[tuple[Any, tuple[str, ...], tuple[Any, ...]]] = field(default_factory=list)
    # where dict versions are readable: each group's dict (kept alive), and as plain numbers, so
    # that reading them touches no shared object, where its version lies and what it was
    backing: list[dict[str, Any]] | None = None
    version_at: array.array[int] = field(default_factory=lambda: array.array("Q"))
    versions: array.array[int] = field(default_factory=lambda: array.array("Q"))
    modules_version: tuple[int, int] | None = None  # sys.modules: (where, what)
    # every watched class and its attribute names: a dunder added to one can shadow a base's
    class_names: list[tuple[type, frozenset[str]]] = field(default_factory=list)

    @classmethod
    def take(
        cls,
        suite_modules: tuple[str, ...] = (),
        signals: tuple[int, ...] = (),
        pluginmanager: Any = None,
    ) -> Snapshot:
        snap = cls()
        if pluginmanager is not None:
            snap.pluginmanager = pluginmanager
            snap.plugins = list(pluginmanager.get_plugins())
            for hook in WATCHED_HOOKS:
                snap.hookimpls[hook] = _impls(pluginmanager, hook)
        seen_classes: set[int] = set()
        for name, module in list(sys.modules.items()):
            if module is None or not _judging(name, suite_modules):
                continue
            snap.modules[name] = module
            try:
                items = list(vars(module).items())
            except TypeError:
                continue
            for attr, value in items:
                if not _watch(value):
                    continue
                snap.module_entries.append((module, attr, value))
                if (
                    isinstance(value, type)
                    and value.__flags__ & HEAP_TYPE  # a static (C) type cannot be patched
                    and id(value) not in seen_classes
                    and getattr(value, "__module__", "") == name
                ):
                    seen_classes.add(id(value))
                    for class_attr, class_value in list(vars(value).items()):
                        snap.class_entries.append((value, class_attr, class_value))
                    snap.class_names.append((value, frozenset(vars(value))))
        for number in signals:
            snap.handlers[number] = signal.getsignal(number)
        snap.groups = _grouped([*snap.module_entries, *snap.class_entries])
        where = version_address()
        if where is not None:
            dicts = [_backing_dict(namespace) for namespace, _, _ in snap.groups]
            if all(d is not None for d in dicts):
                snap.backing = [d for d in dicts if d is not None]
                snap.version_at = array.array("Q", map(where, snap.backing))
                snap.versions = array.array("Q", map(_read_version, snap.version_at))
                at = where(sys.modules)
                snap.modules_version = (at, _read_version(at))
        return snap

    def _entries_unchanged(self) -> bool:
        """Every watched module and class attribute still the object it was (compared in C).

        Where dict versions are readable, a namespace whose dict has not been written since the
        snapshot is skipped without touching its values: in a forked test process, touching an
        object writes its reference count, and copying those pages cost ~10 ms a test."""
        changed: Iterable[int] = range(len(self.groups))
        if self.backing is not None:
            now = map(_read_version, self.version_at)
            changed = itertools.compress(itertools.count(), map(operator.ne, now, self.versions))
        for number in changed:
            namespace, names, values = self.groups[number]
            current = map(namespace.get, names, itertools.repeat(_MISSING))
            if any(map(operator.is_not, current, values)):
                return False
            if type(namespace) is not dict and len(namespace) != len(names):
                return False  # a class gained an attribute: the detailed walk says which
        return True

    def changes(self) -> list[str]:
        """What differs now from the snapshot, as short descriptions (empty when nothing does)."""
        found: list[str] = []
        sentinel = object()
        modules = sys.modules
        unmoved = self.modules_version is not None and (
            _read_version(self.modules_version[0]) == self.modules_version[1]
        )
        for name, module in {} if unmoved else self.modules.items():
            if modules.get(name) is not module:
                found.append(f"sys.modules[{name!r}] was replaced")
        entries_unchanged = self._entries_unchanged()  # the common case: skip the detailed walk
        for module, attr, value in [] if entries_unchanged else self.module_entries:
            if vars(module).get(attr, sentinel) is not value:
                found.append(f"{module.__name__}.{attr} was replaced")
                if len(found) > MAX_SHOWN:
                    return found
        for owner, attr, value in [] if entries_unchanged else self.class_entries:
            current = owner.__dict__.get(attr, sentinel)
            if current is not value and not _same_descriptor(current, value):
                found.append(f"{owner.__module__}.{owner.__qualname__}.{attr} was replaced")
                if len(found) > MAX_SHOWN:
                    return found
        for owner, names in [] if entries_unchanged else self.class_names:
            for attr in vars(owner).keys() - names - LAZY_CLASS_ATTRIBUTES:
                if attr.startswith("__") and attr.endswith("__"):
                    found.append(f"{owner.__module__}.{owner.__qualname__}.{attr} was added")
                    if len(found) > MAX_SHOWN:
                        return found
        if self.pluginmanager is not None:
            plugins = self.pluginmanager.get_plugins()
            if len(plugins) != len(self.plugins) or any(p not in plugins for p in self.plugins):
                found.append("a pytest plugin was registered or unregistered")
            for hook, impls in self.hookimpls.items():
                if _impls(self.pluginmanager, hook) != impls:
                    found.append(f"the implementations of the {hook} hook changed")
        for number, handler in self.handlers.items():
            if signal.getsignal(number) is not handler:
                found.append(f"the handler of {signal.Signals(number).name} was replaced")
        if sys.gettrace() is not None or sys.getprofile() is not None:
            found.append("a trace or profile function was installed (sys.settrace/setprofile)")
        if _thread_hooks():
            found.append("a trace function was installed for new threads")
        return found


WATCHED_HOOKS = (
    "pytest_runtest_protocol", "pytest_runtest_setup", "pytest_runtest_call",
    "pytest_runtest_teardown", "pytest_runtest_makereport", "pytest_pyfunc_call",
)  # fmt: skip


def _impls(pluginmanager: Any, hook: str) -> list[Any]:
    caller = getattr(pluginmanager.hook, hook, None)
    return [impl.function for impl in caller.get_hookimpls()] if caller is not None else []


_MISSING = object()
_VERSION_OFFSET: list[int | None] = []


def version_address() -> Callable[[dict[str, Any]], int] | None:
    """A function giving where in memory a dict keeps its version tag (PEP 509: CPython gives a
    dict a new version at every write), or None where that cannot be read safely. Reading it
    from memory touches no object; the layout is checked once, by writing to a probe dict."""
    if not _VERSION_OFFSET:
        _VERSION_OFFSET.append(_version_offset())
    offset = _VERSION_OFFSET[0]
    if offset is None:
        return None
    return lambda d: id(d) + offset


def _read_version(address: int) -> int:
    return int(ctypes.c_uint64.from_address(address).value)


def _version_offset() -> int | None:
    if (
        sys.implementation.name != "cpython"
        or not (3, 11) <= sys.version_info[:2] <= (3, 12)  # 3.13 reuses the field for watchers
        or hasattr(sys, "gettotalrefcount")  # a debug build: another object header
    ):
        return None
    # PyDictObject: PyObject_HEAD (refcount, type), ma_used, then the 64-bit ma_version_tag
    offset = 2 * ctypes.sizeof(ctypes.c_void_p) + ctypes.sizeof(ctypes.c_ssize_t)
    probe: dict[str, Any] = {"a": 1}
    steps = [_read_version(id(probe) + offset), _read_version(id(probe) + offset)]
    probe["a"] = 2  # a replaced value: the count of items does not move, the version must
    steps.append(_read_version(id(probe) + offset))
    probe["b"] = 3
    steps.append(_read_version(id(probe) + offset))
    del probe["a"]
    steps.append(_read_version(id(probe) + offset))
    if steps[0] != steps[1] or len(set(steps[1:])) != 4:
        return None
    return offset


def _backing_dict(namespace: Any) -> dict[str, Any] | None:
    """The dict itself behind a module's dict or a class's mappingproxy."""
    if type(namespace) is dict:
        return namespace
    referents = gc.get_referents(namespace)
    if len(referents) == 1 and type(referents[0]) is dict:
        return referents[0]
    return None


def _grouped(
    entries: list[tuple[Any, str, Any]],
) -> list[tuple[Any, tuple[str, ...], tuple[Any, ...]]]:
    """(owner, attr, value) entries as one (namespace, names, values) per module or class; a
    class's namespace is one live view of its __dict__."""
    by_namespace: dict[int, tuple[Any, list[str], list[Any]]] = {}
    for owner, attr, value in entries:
        group = by_namespace.get(id(owner))
        if group is None:
            group = by_namespace[id(owner)] = (vars(owner), [], [])
        group[1].append(attr)
        group[2].append(value)
    return [(ns, tuple(names), tuple(values)) for ns, names, values in by_namespace.values()]


def _same_descriptor(current: Any, value: Any) -> bool:
    # attribute lookups on some C types give a fresh wrapper object each time: equal, not identical
    try:
        return bool(current == value) and type(current) is type(value)
    except Exception:  # noqa: BLE001 - an object of the attempt's making may raise in __eq__
        return False


def _thread_hooks() -> bool:
    gettrace: Callable[[], Any] | None = getattr(threading, "gettrace", None)
    getprofile: Callable[[], Any] | None = getattr(threading, "getprofile", None)
    return bool((gettrace and gettrace()) or (getprofile and getprofile()))

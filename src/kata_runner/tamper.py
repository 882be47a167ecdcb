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

import itertools
import operator
import signal
import sys
import threading
from collections.abc import Callable
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
HEAP_TYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE


def _judging(name: str, suite_modules: tuple[str, ...]) -> bool:
    return (
        name in JUDGING_MODULES
        or name in JUDGING_LIBRARY_MODULES
        or name in suite_modules
        or any(name == p or name.startswith(p + ".") for p in JUDGING_PREFIXES)
    )


def _watch(value: Any) -> bool:
    return isinstance(value, (type, ModuleType, FunctionType, BuiltinFunctionType)) or (
        type(value).__module__ == "numpy" and type(value).__name__ == "ufunc"
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
        for number in signals:
            snap.handlers[number] = signal.getsignal(number)
        snap.groups = _grouped([*snap.module_entries, *snap.class_entries])
        return snap

    def _entries_unchanged(self) -> bool:
        """Every watched module and class attribute still the object it was (compared in C)."""
        for namespace, names, values in self.groups:
            current = map(namespace.get, names, itertools.repeat(_MISSING))
            if any(map(operator.is_not, current, values)):
                return False
        return True

    def changes(self) -> list[str]:
        """What differs now from the snapshot, as short descriptions (empty when nothing does)."""
        found: list[str] = []
        sentinel = object()
        modules = sys.modules
        for name, module in self.modules.items():
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

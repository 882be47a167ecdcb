"""The one door between a hidden suite and the attempt: `impl` is a proxy owned by the harness.

Every call from the suite into the attempt's code goes through `Door.call`, which
- measures the attempt's own CPU time per test (what per-test limits count; the suite's oracles and
  Hypothesis's shrinking are not the attempt's time) and enforces the limit with a CPU timer
  (ITIMER_PROF) while the attempt runs, plus a wall-clock timer for an attempt that sleeps;
- converts what comes back to exact plain types (`float`, `int`, `str`, base `np.ndarray`, base
  `torch.Tensor`, plain containers), so no object of the attempt's making reaches an assertion or a
  frame of the suite: a `float` subclass cannot read the suite's locals in `__float__`;
- wraps what cannot be converted (an instance of the attempt's class, a function it returns, a
  generator, a coroutine) in a proxy that sends every further call through the door;
- tags every exception that leaves the attempt, so the harness attributes it without guessing.

Exception classes of the attempt pass through as real classes (suites catch them).
"""

from __future__ import annotations

import contextlib
import functools
import mmap
import operator
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import (
    BuiltinFunctionType,
    BuiltinMethodType,
    CoroutineType,
    FunctionType,
    GeneratorType,
    MethodType,
    ModuleType,
)
from typing import Any

LABEL_BYTES = 64
REARM_SECONDS = 0.25
IDLE_SHARE = 0.05
SWALLOWS_TOLERATED = 3  # the timer re-fires every REARM_SECONDS; past this, the test is ended  # an attempt that used less CPU than this share of the time waited is waiting
EXACT_SCALARS: frozenset[type] = frozenset(
    {int, float, bool, complex, str, bytes, type(None), type(Ellipsis), range, slice}
)
SCALAR_BASES: tuple[tuple[type, Callable[[Any], Any]], ...] = (
    (bool, bool),
    (int, int.__int__),
    (float, float.__float__),
    (complex, complex.__complex__),
    (str, str.__str__),
    (bytes, bytes.__bytes__),
)
TRUSTED_MODULES = ("fractions", "decimal", "datetime", "uuid", "pathlib")
ORIGIN_ATTRIBUTE = "__kata_origin__"


class KataTimeout(BaseException):
    """Raised in the attempt's code when it runs past its limit; Hypothesis does not catch it.

    `kind` is "cpu" (it used more CPU time than the limit) or "wall" (it waited, sleeping or
    blocked, far longer than the limit without finishing).
    """

    def __init__(self, kind: str, label: str | None, limit: float) -> None:
        self.kind, self.label, self.limit = kind, label, limit
        what = (
            f"used more than its {limit:g} s of CPU time"
            if kind == "cpu"
            else f"waited more than {limit:g} s without finishing"
        )
        super().__init__(f"{label or 'your code'} {what}")


ORIGINS_KEPT = 256  # returned containers whose origin the door remembers, the most recent first


class Door:
    """The accounting and conversion of every call into the attempt (one per grading process)."""

    def __init__(self, module: ModuleType, trusted_modules: tuple[str, ...] = ()) -> None:
        self.module = module
        self.trusted_modules = ("kata_runner", *trusted_modules)
        self.depth = 0
        self.cpu_used = 0.0
        self.cpu_limit = float("inf")
        self.wall_limit = float("inf")
        self.label: str | None = None
        self.entered_cpu = 0.0
        self.entered_wall = 0.0
        self.fired: str | None = None
        self.sink: mmap.mmap | None = None
        self.fires = 0
        self.on_overrun: Callable[[KataTimeout], None] | None = None
        self.labels_seen: list[str] = []
        self.origins: dict[int, tuple[Any, Any]] = {}  # id(copy) -> (copy, the attempt's object)
        self._process_time = time.process_time
        self._setitimer = signal.setitimer
        self.wall_tick = 1.0

    # ---- per test -------------------------------------------------------------------------------

    def begin_test(self, cpu_limit: float, wall_limit: float) -> None:
        """Reset the accounting for a test with these limits (inf, inf: between tests), and arm
        the timers that watch it. They tick for the whole test rather than being armed at every
        call: a call into the attempt then costs two clock reads and no system call to a timer."""
        self.origins.clear()
        self.cpu_used, self.cpu_limit, self.wall_limit = 0.0, cpu_limit, wall_limit
        self.fired, self.label = None, None
        self.fires = 0
        self.labels_seen = []
        if cpu_limit != float("inf"):
            first = min(cpu_limit, REARM_SECONDS)
            self._setitimer(signal.ITIMER_PROF, first, REARM_SECONDS)
        else:
            self._setitimer(signal.ITIMER_PROF, 0)
        if wall_limit != float("inf"):
            self.wall_tick = min(1.0, wall_limit / 4)
            self._setitimer(signal.ITIMER_REAL, self.wall_tick, self.wall_tick)
        else:
            self._setitimer(signal.ITIMER_REAL, 0)

    def install_timers(self) -> None:
        """The handlers that turn the timers into KataTimeout inside the attempt's code."""
        signal.signal(signal.SIGPROF, self._on_cpu_timer)
        signal.signal(signal.SIGALRM, self._on_wall_timer)

    def attempt_cpu(self) -> float:
        """The attempt's CPU time so far in this test, the call in progress included (s)."""
        running = self._process_time() - self.entered_cpu if self.depth > 0 else 0.0
        return self.cpu_used + running

    def _on_cpu_timer(self, signum: int, frame: Any) -> None:
        """Ticks every REARM_SECONDS of the process's CPU time (suite and attempt alike); fires
        once the attempt's own share is over the limit, and ticks sooner when it is close."""
        if self.depth == 0:
            return
        remaining = self.cpu_limit - self.attempt_cpu()
        if remaining <= 0:
            self._fire("cpu")
        if remaining < REARM_SECONDS:
            self._setitimer(signal.ITIMER_PROF, max(remaining, 0.001), REARM_SECONDS)

    def _fire(self, kind: str) -> None:
        """Raise KataTimeout in the attempt's code; if it keeps swallowing it (an `except
        BaseException` in a loop), end the test from here."""
        self.fired = kind
        self.fires += 1
        if self.fires > SWALLOWS_TOLERATED and self.on_overrun is not None:
            self.on_overrun(
                KataTimeout(kind, self.label, self.cpu_limit if kind == "cpu" else self.wall_limit)
            )
        raise KataTimeout(kind, self.label, self.cpu_limit if kind == "cpu" else self.wall_limit)

    def _on_wall_timer(self, signum: int, frame: Any) -> None:
        """Fires only for a call that has waited past the wall limit and mostly waited: one that
        computed is the CPU timer's to judge, however slowly a loaded machine let it run."""
        if self.depth == 0:
            return
        waited = time.monotonic() - self.entered_wall
        if waited < self.wall_limit:
            if self.wall_limit - waited < self.wall_tick:  # the next tick would come too late
                soon = max(self.wall_limit - waited, 0.001)
                self._setitimer(signal.ITIMER_REAL, soon, self.wall_tick)
            return
        computed = self._process_time() - self.entered_cpu
        if computed < IDLE_SHARE * waited:
            self._fire("wall")

    # ---- the door -------------------------------------------------------------------------------

    def call(self, label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """fn(*args, **kwargs) as attempt code: timed, limited, converted, exceptions tagged."""
        for arg in args:
            if type(arg) in MAY_HOLD_PROXIES:
                args = tuple(unwrap(a) for a in args)
                break
        if kwargs:
            kwargs = {k: unwrap(v) for k, v in kwargs.items()}
        return self.wrap(self.run(label, fn, *args, **kwargs), label)

    def run(self, label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """fn(*args, **kwargs) as attempt code, timed and limited; the result as it is."""
        if self.depth > 0:  # attempt code calling back into attempt code: already accounted
            self.depth += 1
            try:
                return fn(*args, **kwargs)
            except BaseException as exc:
                if not isinstance(exc, KataTimeout):
                    _tag(exc)
                raise
            finally:
                self.depth -= 1
        if label != self.label:
            self._relabel(label)
        if self.cpu_used >= self.cpu_limit:
            self.fired = "cpu"
            raise KataTimeout("cpu", label, self.cpu_limit)
        clock = self._process_time
        self.entered_wall = time.monotonic()
        self.entered_cpu = entered = clock()
        self.depth += 1  # not `= 1`: threads of the attempt may enter at once
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self.depth -= 1
            self.cpu_used += clock() - entered
            if not isinstance(exc, KataTimeout):
                _tag(exc)
            raise
        self.depth -= 1
        self.cpu_used += clock() - entered
        if self.cpu_used > self.cpu_limit:
            # the timer was dodged (disabled, or its signal swallowed): the limit still holds
            self.fired = "cpu"
            raise KataTimeout("cpu", self.label, self.cpu_limit)
        return result

    def _relabel(self, label: str) -> None:
        """The attempt's code now runs under `label`: noted, and shown to the parent's watchdog."""
        self.label = label
        if label not in self.labels_seen:
            self.labels_seen.append(label)
        if self.sink is not None:
            self.sink[:LABEL_BYTES] = label.encode()[:LABEL_BYTES].ljust(LABEL_BYTES)

    # ---- what comes out ---------------------------------------------------------------------------

    def wrap(self, value: Any, label: str) -> Any:
        """`value` as the suite may see it: plain, or behind a proxy. A container is a copy, so the
        door remembers what it was copied from (see `origin`)."""
        if type(value) in EXACT_SCALARS:
            return value
        plain = _plain(value, self, label, 0)
        if plain is not value and type(value) in (list, dict, set):
            self.origins[id(plain)] = (plain, value)  # both kept alive: ids stay unique
            if len(self.origins) > ORIGINS_KEPT:  # the oldest is forgotten (its origin unknown)
                del self.origins[next(iter(self.origins))]
        return plain

    def origin(self, returned: Any) -> int | None:
        """Which object of the attempt a returned container was copied from, as a number: two
        results that came from the same live object of the attempt have the same origin. None
        for anything else."""
        kept = self.origins.get(id(returned))
        return id(kept[1]) if kept is not None and kept[0] is returned else None


def _tag(exc: BaseException) -> None:
    with contextlib.suppress(AttributeError, TypeError):
        setattr(exc, ORIGIN_ATTRIBUTE, "attempt")


def raised_by_attempt(exc: BaseException) -> bool:
    """Whether `exc` left the attempt's code through the door."""
    try:
        return getattr(exc, ORIGIN_ATTRIBUTE, None) == "attempt"
    except Exception:  # noqa: BLE001 - an exception object of the attempt's making
        return False


def unwrap(value: Any) -> Any:
    """The attempt's own object behind a proxy (one level into lists, tuples and dicts)."""
    kind = type(value)
    if kind is AttemptObject or kind is AttemptClass or kind is AttemptCallable:
        return object.__getattribute__(value, "_target")
    if kind is list:
        return [unwrap(v) for v in value] if any(_is_proxy(v) for v in value) else value
    if kind is tuple:
        return tuple(unwrap(v) for v in value) if any(_is_proxy(v) for v in value) else value
    if kind is dict:
        if any(_is_proxy(v) for v in value.values()):
            return {k: unwrap(v) for k, v in value.items()}
        return value
    return value


def _is_proxy(value: Any) -> bool:
    return type(value) in PROXY_TYPES


# ---------------------------------------------------------------------------------------------
# Conversion to plain types


def _plain(value: Any, door: Door, label: str, depth: int) -> Any:
    kind = type(value)
    if kind in EXACT_SCALARS:
        return value
    if kind is list:
        return [_plain(v, door, label, depth + 1) for v in value]
    if kind is tuple:
        return tuple(_plain(v, door, label, depth + 1) for v in value)
    if kind is dict:
        return {
            _plain(k, door, label, depth + 1): _plain(v, door, label, depth + 1)
            for k, v in value.items()
        }
    if kind is set or kind is frozenset:
        return kind(_plain(v, door, label, depth + 1) for v in value)
    if _is_proxy(value):
        return value
    module = getattr(kind, "__module__", "") or ""
    if _belongs_to_suite(value, module, door):
        return value
    if module.startswith("numpy"):
        plain_numpy = _plain_numpy(value, door, label, depth)
        if plain_numpy is not _UNSET:
            return plain_numpy
    if module.startswith("torch"):
        return value  # torch's own types (Tensor, Parameter, Size, dtype, its modules) as they are
    if "torch" in sys.modules and _is_torch_subclass(value):
        return _base_tensor(value)
    if "numpy" in sys.modules and _is_numpy_subclass(value):
        return _base_array(value)
    for base, convert in SCALAR_BASES:
        if isinstance(value, base):
            return convert(value)
    if isinstance(value, tuple) and isinstance(getattr(kind, "_fields", None), tuple):
        # a namedtuple: plain values in a namedtuple of ours with the same fields
        items = [_plain(v, door, label, depth + 1) for v in value]
        record = _record_type(kind.__name__, tuple(map(str, kind._fields)))
        return record(*items) if record is not None else tuple(items)
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        # a subclass of a container (a dict subclass): its plain contents
        base = next(b for b in (dict, list, tuple, set, frozenset) if isinstance(value, b))
        return _plain(base(value), door, label, depth + 1)
    if isinstance(value, BaseException) or (
        isinstance(value, type) and issubclass(value, BaseException)
    ):
        return value
    if module in TRUSTED_MODULES or module == "collections":
        return _plain_collection(value, door, label, depth)
    if isinstance(value, GeneratorType):
        return AttemptObject(_TimedIterator(value, door, label), door, label)
    if isinstance(value, CoroutineType):
        return _timed_coroutine(value, door, label)
    if isinstance(value, type):
        return AttemptClass(value, door, value.__name__)
    if isinstance(value, FUNCTION_TYPES):
        return AttemptCallable(value, door, getattr(value, "__name__", label) or label)
    return AttemptObject(value, door, label)


FUNCTION_TYPES = (
    FunctionType,
    MethodType,
    BuiltinFunctionType,
    BuiltinMethodType,
    functools.partial,
)


def _belongs_to_suite(value: Any, module: str, door: Door) -> bool:
    """Objects the suite or the standard library made (the suite's functions, classes and their
    instances; `time.sleep`, `asyncio.sleep`): returned as they are, so the suite keeps their
    identity (a default argument `sleep=time.sleep` is `time.sleep`)."""
    if isinstance(value, (BuiltinFunctionType, BuiltinMethodType)):
        owner = getattr(value, "__self__", None)
        owner_module = type(owner).__module__.partition(".")[0]
        return (
            owner is None
            or isinstance(owner, ModuleType)
            or owner_module in sys.stdlib_module_names  # `random.random`: a method of a Random
        )
    if isinstance(value, FunctionType):
        module = getattr(value, "__module__", "") or ""
        if module.partition(".")[0] in sys.stdlib_module_names:
            return True
    elif isinstance(value, type):
        module = value.__module__
    return module.startswith(door.trusted_modules)


_UNSET = object()


@functools.lru_cache(maxsize=256)
def _record_type(name: str, fields: tuple[str, ...]) -> Any:
    """A namedtuple type of ours (None for field names a namedtuple cannot take)."""
    import collections

    try:
        return collections.namedtuple(name, fields)
    except ValueError:
        return None


def _plain_numpy(value: Any, door: Door, label: str, depth: int) -> Any:
    import numpy as np

    if type(value) is np.ndarray:
        if value.dtype.kind == "O":
            out = np.empty(value.shape, dtype=object)
            for index, item in np.ndenumerate(value):
                out[index] = _plain(item, door, label, depth + 1)
            return out
        return value
    if isinstance(value, np.generic) and type(value).__module__ == "numpy":
        return value
    return _UNSET


def _is_numpy_subclass(value: Any) -> bool:
    import numpy as np

    return isinstance(value, (np.ndarray, np.generic))


def _base_array(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.ndarray):
        return np.ndarray.copy(np.ndarray.view(value, np.ndarray))
    base = next(b for b in type(value).__mro__ if b.__module__ == "numpy")
    return base(np.generic.item(value))


def _is_torch_subclass(value: Any) -> bool:
    import torch

    return isinstance(value, torch.Tensor)


def _base_tensor(value: Any) -> Any:
    import torch

    with torch._C.DisableTorchFunctionSubclass():
        return torch.Tensor.as_subclass(value, torch.Tensor)


def _plain_collection(value: Any, door: Door, label: str, depth: int) -> Any:
    import collections

    if type(value) is collections.deque:
        return collections.deque(_plain(v, door, label, depth + 1) for v in value)
    if type(value) is collections.OrderedDict:
        return collections.OrderedDict(
            (_plain(k, door, label, depth + 1), _plain(v, door, label, depth + 1))
            for k, v in value.items()
        )
    if type(value).__module__ in TRUSTED_MODULES:
        return value
    return AttemptObject(value, door, label)


# ---------------------------------------------------------------------------------------------
# Proxies


def _door(proxy: Any) -> Door:
    door: Door = object.__getattribute__(proxy, "_door")
    return door


def _target(proxy: Any) -> Any:
    return object.__getattribute__(proxy, "_target")


def _label(proxy: Any) -> str:
    label: str = object.__getattribute__(proxy, "_label")
    return label


class _CallableProxy:
    """What a function and a class of the attempt share: calling it, and reading its attributes,
    go through the door."""

    __slots__ = ("_door", "_label", "_target")

    def __init__(self, target: Any, door: Door, label: str) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_door", door)
        object.__setattr__(self, "_label", label)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        get = object.__getattribute__  # the hot path of every suite: no helper calls
        return get(self, "_door").call(get(self, "_label"), get(self, "_target"), *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return _door(self).call(_label(self), getattr, _target(self), name)

    def __hash__(self) -> int:
        return hash(_target(self))


class AttemptCallable(_CallableProxy):
    """A function (or bound method) of the attempt: calling it goes through the door."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        _door(self).call(_label(self), setattr, _target(self), name, value)

    def __repr__(self) -> str:
        return f"<{_label(self)} of your code>"

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        return self if instance is None else functools.partial(self, instance)

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return type(_target(self))

    def __eq__(self, other: object) -> bool:
        return _target(self) is unwrap(other) or _target(self) == unwrap(other)

    __hash__ = _CallableProxy.__hash__  # defining __eq__ would otherwise unset it


class AttemptClass(_CallableProxy):
    """A class of the attempt: constructing it, and its class attributes, go through the door;
    `isinstance(x, impl.Cls)` works on proxies and plain objects alike."""

    __slots__ = ()

    def __instancecheck__(self, instance: Any) -> bool:
        return isinstance(unwrap(instance), _target(self))

    def __subclasscheck__(self, subclass: Any) -> bool:
        return issubclass(unwrap(subclass), _target(self))

    def __repr__(self) -> str:
        return f"<class {_label(self)} of your code>"

    def __eq__(self, other: object) -> bool:
        return _target(self) is unwrap(other)

    __hash__ = _CallableProxy.__hash__

    @property
    def __name__(self) -> str:
        return str(_target(self).__name__)


def _method_of(door: Door, target: Any, name: str) -> Any:
    return door.call(name, getattr, target, name)


def _forward(op: Callable[..., Any], label: str) -> Callable[..., Any]:
    def method(self: Any, *args: Any) -> Any:
        return _door(self).call(label, op, _target(self), *args)

    method.__name__ = label
    return method


def _reflected(op: Callable[..., Any], label: str) -> Callable[..., Any]:
    def method(self: Any, other: Any) -> Any:
        return _door(self).call(label, op, other, _target(self))

    method.__name__ = label
    return method


class AttemptObject:
    """An object of the attempt's making: attribute access, method calls and operators go through the
    door, and what comes back is plain or proxied in turn."""

    __slots__ = ("_door", "_label", "_target")

    def __init__(self, target: Any, door: Door, label: str) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_door", door)
        object.__setattr__(self, "_label", label)

    def __getattr__(self, name: str) -> Any:
        return _door(self).call(name, getattr, _target(self), name)

    def __setattr__(self, name: str, value: Any) -> None:
        _door(self).call(name, setattr, _target(self), name, value)

    def __delattr__(self, name: str) -> None:
        _door(self).call(name, delattr, _target(self), name)

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return type(_target(self))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        get = object.__getattribute__  # the hot path of every suite: no helper calls
        return get(self, "_door").call(get(self, "_label"), get(self, "_target"), *args, **kwargs)

    def __repr__(self) -> str:
        text = _door(self).call("__repr__", repr, _target(self))
        return str(text) if isinstance(text, str) else "<object of your code>"

    def __str__(self) -> str:
        text = _door(self).call("__str__", str, _target(self))
        return str(text) if isinstance(text, str) else "<object of your code>"

    def __format__(self, spec: str) -> str:
        return str(_door(self).call("__format__", format, _target(self), spec))

    def __bool__(self) -> bool:
        return bool(_door(self).call("__bool__", bool, _target(self)))

    def __len__(self) -> int:
        return int(_door(self).call("__len__", len, _target(self)))

    def __hash__(self) -> int:
        return int(_door(self).call("__hash__", hash, _target(self)))

    def __iter__(self) -> Iterator[Any]:
        return _door(self).call("__iter__", iter, _target(self))  # type: ignore[no-any-return]

    def __next__(self) -> Any:
        return _door(self).call(_label(self), next, _target(self))

    def __contains__(self, item: Any) -> bool:
        return bool(_door(self).call("__contains__", operator.contains, _target(self), item))

    def __float__(self) -> float:
        return float(_door(self).call("__float__", float, _target(self)))

    def __int__(self) -> int:
        return int(_door(self).call("__int__", int, _target(self)))

    def __index__(self) -> int:
        return int(_door(self).call("__index__", operator.index, _target(self)))

    def __enter__(self) -> Any:
        return _door(self).call("__enter__", type(_target(self)).__enter__, _target(self))

    def __exit__(self, *exc: object) -> Any:
        return _door(self).call("__exit__", type(_target(self)).__exit__, _target(self), *exc)

    def __await__(self) -> Any:
        return _door(self).call("__await__", type(_target(self)).__await__, _target(self))

    def __aiter__(self) -> Any:
        return _door(self).call("__aiter__", type(_target(self)).__aiter__, _target(self))

    def __anext__(self) -> Any:
        return _door(self).call("__anext__", type(_target(self)).__anext__, _target(self))

    def __copy__(self) -> Any:
        import copy

        return _door(self).call("__copy__", copy.copy, _target(self))

    def __deepcopy__(self, memo: Any) -> Any:
        import copy

        return _door(self).call("__deepcopy__", copy.deepcopy, _target(self))

    __getitem__ = _forward(operator.getitem, "__getitem__")
    __setitem__ = _forward(operator.setitem, "__setitem__")
    __delitem__ = _forward(operator.delitem, "__delitem__")
    __eq__ = _forward(operator.eq, "__eq__")
    __ne__ = _forward(operator.ne, "__ne__")
    __lt__ = _forward(operator.lt, "__lt__")
    __le__ = _forward(operator.le, "__le__")
    __gt__ = _forward(operator.gt, "__gt__")
    __ge__ = _forward(operator.ge, "__ge__")
    __neg__ = _forward(operator.neg, "__neg__")
    __pos__ = _forward(operator.pos, "__pos__")
    __abs__ = _forward(operator.abs, "__abs__")
    __invert__ = _forward(operator.invert, "__invert__")
    __round__ = _forward(round, "__round__")
    __reversed__ = _forward(reversed, "__reversed__")


for _name, _op in (
    ("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
    ("truediv", operator.truediv), ("floordiv", operator.floordiv), ("mod", operator.mod),
    ("pow", operator.pow), ("matmul", operator.matmul), ("and", operator.and_),
    ("or", operator.or_), ("xor", operator.xor), ("lshift", operator.lshift),
    ("rshift", operator.rshift), ("divmod", divmod),
):  # fmt: skip
    setattr(AttemptObject, f"__{_name}__", _forward(_op, f"__{_name}__"))
    setattr(AttemptObject, f"__r{_name}__", _reflected(_op, f"__r{_name}__"))
for _name, _op in (
    ("iadd", operator.iadd), ("isub", operator.isub), ("imul", operator.imul),
    ("itruediv", operator.itruediv), ("ifloordiv", operator.ifloordiv), ("imod", operator.imod),
    ("ipow", operator.ipow), ("imatmul", operator.imatmul),
):  # fmt: skip
    setattr(AttemptObject, f"__{_name}__", _forward(_op, f"__{_name}__"))


PROXY_TYPES: frozenset[type] = frozenset({AttemptObject, AttemptClass, AttemptCallable})
MAY_HOLD_PROXIES: frozenset[type] = PROXY_TYPES | {list, tuple, dict}  # what `unwrap` looks into


class _TimedIterator:
    """A generator of the attempt, stepped through the door."""

    def __init__(self, generator: GeneratorType[Any, Any, Any], door: Door, label: str) -> None:
        self.generator, self.door, self.label = generator, door, label

    def __iter__(self) -> _TimedIterator:
        return self

    def __next__(self) -> Any:
        return self.door.call(self.label, next, self.generator)

    def send(self, value: Any) -> Any:
        return self.door.call(self.label, self.generator.send, value)

    def throw(self, *args: Any) -> Any:
        return self.door.call(self.label, self.generator.throw, *args)

    def close(self) -> None:
        self.door.call(self.label, self.generator.close)


class _Stepper:
    """Drives a coroutine of the attempt one step at a time, each step through the door."""

    def __init__(self, coroutine: CoroutineType[Any, Any, Any], door: Door, label: str) -> None:
        self.coroutine, self.door, self.label = coroutine, door, label

    def __await__(self) -> Any:
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            try:
                if to_throw is not None:
                    exc, to_throw = to_throw, None
                    yielded = self.door.call(self.label, self.coroutine.throw, exc)
                else:
                    yielded = self.door.call(self.label, self.coroutine.send, to_send)
            except StopIteration as stop:
                return self.door.wrap(stop.value, self.label)
            try:
                to_send = yield unwrap(yielded)
            except BaseException as exc:  # noqa: BLE001 - thrown into the coroutine, as await would
                to_throw = exc


def _timed_coroutine(coroutine: CoroutineType[Any, Any, Any], door: Door, label: str) -> Any:
    async def attempt_coroutine() -> Any:
        return await _Stepper(coroutine, door, label)

    attempt_coroutine.__qualname__ = label
    return attempt_coroutine()


class AttemptModule:
    """`impl`: the attempt's module as the suite sees it. Every name goes through the door."""

    __slots__ = ("_cache", "_door", "_target")

    def __init__(self, module: ModuleType, door: Door) -> None:
        object.__setattr__(self, "_target", module)
        object.__setattr__(self, "_door", door)
        object.__setattr__(self, "_cache", {})

    def __getattr__(self, name: str) -> Any:
        cache: dict[str, Any] = object.__getattribute__(self, "_cache")
        if name in cache:
            return cache[name]
        door = _door(self)
        module = _target(self)
        if "__getattr__" in vars(module):
            value = door.call(name, getattr, module, name)
        else:
            value = door.wrap(getattr(module, name), name)
        if _is_proxy(value) or isinstance(value, type):
            cache[name] = value
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        object.__getattribute__(self, "_cache").pop(name, None)
        setattr(_target(self), name, unwrap(value))

    def __dir__(self) -> list[str]:
        return dir(_target(self))

    def __repr__(self) -> str:
        return f"<your module {_target(self).__name__}>"


def open_label_sink(path: Path) -> mmap.mmap:
    """A small shared file the door writes the name in flight to; the parent reads it after a crash."""
    with path.open("w+b") as handle:
        handle.write(b" " * LABEL_BYTES)
        handle.flush()
        return mmap.mmap(handle.fileno(), LABEL_BYTES)


def attempt_call(impl: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call `fn` as the attempt's code through `impl`'s door: for attempt code the suite reaches
    indirectly (a model whose layers the attempt replaced). Without the harness, a plain call."""
    if type(impl) is AttemptModule:
        return _door(impl).call(getattr(fn, "__name__", "call"), fn, *args, **kwargs)
    return fn(*args, **kwargs)

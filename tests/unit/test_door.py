"""The door between a suite and the attempt: what comes back is plain, what cannot be is proxied,
time is the attempt's own, exceptions are tagged."""

from __future__ import annotations

import asyncio
import random
import sys
import time
import types

import numpy as np
import pytest

from kata_runner.door import AttemptModule, Door, KataTimeout, raised_by_attempt


def module_from(source: str) -> AttemptModule:
    """The attempt `source` behind a door that trusts this module as a suite."""
    module = types.ModuleType("attempt_under_test")
    exec(compile(source, "attempt_under_test.py", "exec"), module.__dict__)  # noqa: S102
    sys.modules["attempt_under_test"] = module
    return AttemptModule(module, Door(module, (__name__,)))


def test_a_float_subclass_comes_back_as_a_plain_float_whatever_its_methods_say():
    impl = module_from(
        "class Sneaky(float):\n"
        "    def __float__(self): return 0.96\n"
        "    def __eq__(self, other): return True\n"
        "def f(): return Sneaky(0.5)\n"
    )
    value = impl.f()
    assert type(value) is float and value == 0.5 and value != 0.96


def test_an_ndarray_subclass_comes_back_as_a_base_array_copy():
    impl = module_from(
        "import numpy as np\n"
        "class Sneaky(np.ndarray):\n"
        "    def astype(self, *a, **k): return np.ones(3)\n"
        "def f(): return np.zeros(3).view(Sneaky)\n"
    )
    value = impl.f()
    assert type(value) is np.ndarray and value.astype(float).tolist() == [0.0, 0.0, 0.0]


def test_containers_are_rebuilt_and_namedtuples_keep_their_fields():
    impl = module_from(
        "import collections\n"
        "Chunk = collections.namedtuple('Chunk', 'text start end')\n"
        "class Weird(list): pass\n"
        "def f(): return {'a': Weird([1, 2]), 'b': (Chunk('x', 0, 1),)}\n"
    )
    value = impl.f()
    assert type(value["a"]) is list and value["a"] == [1, 2]
    (chunk,) = value["b"]
    assert chunk.text == "x" and chunk.start == 0 and chunk == ("x", 0, 1)
    assert type(chunk).__module__ != "attempt_under_test"  # a plain record, not the attempt's class


def test_objects_of_the_attempt_are_proxied_and_their_calls_go_through_the_door():
    impl = module_from(
        "class Cache:\n"
        "    def __init__(self, n): self.n = n; self.items = {}\n"
        "    def put(self, k, v): self.items[k] = v\n"
        "    def get(self, k): return self.items.get(k)\n"
        "    def __len__(self): return len(self.items)\n"
        "    def __contains__(self, k): return k in self.items\n"
    )
    cache = impl.Cache(2)
    cache.put("a", 1.5)
    assert cache.get("a") == 1.5 and len(cache) == 1 and "a" in cache
    assert isinstance(cache, impl.Cache)
    door = object.__getattribute__(impl, "_door")
    assert "put" in door.labels_seen and "Cache" in door.labels_seen


def test_exception_classes_stay_real_classes_and_raised_exceptions_are_tagged():
    impl = module_from(
        "class TransactionError(Exception): pass\n"
        "def f(): raise TransactionError('no transaction')\n"
        "def g(): return [][1]\n"
    )
    with pytest.raises(impl.TransactionError) as raised:
        impl.f()
    assert raised_by_attempt(raised.value)
    with pytest.raises(IndexError) as index_error:
        impl.g()
    assert raised_by_attempt(index_error.value)


def test_standard_library_functions_keep_their_identity():
    impl = module_from(
        "import time, random, asyncio\n"
        "def defaults(sleep=time.sleep, rng=random.random, asleep=asyncio.sleep):\n"
        "    return sleep, rng, asleep\n"
    )
    sleep, rng, asleep = impl.defaults()
    assert sleep is time.sleep and rng is random.random and asleep is asyncio.sleep


def test_functions_the_suite_passed_in_come_back_as_themselves():
    impl = module_from("def identity(fn): return fn\n")

    def mine() -> int:
        return 1

    assert impl.identity(mine) is mine


def test_a_coroutine_of_the_attempt_runs_through_the_door():
    impl = module_from(
        "import asyncio\nasync def f(x):\n    await asyncio.sleep(0)\n    return x * 2.0\n"
    )
    assert asyncio.run(impl.f(2)) == 4.0


def test_a_generator_of_the_attempt_is_stepped_through_the_door():
    impl = module_from("def f():\n    yield 1\n    yield 2.5\n")
    assert list(impl.f()) == [1, 2.5]


def test_the_cpu_limit_counts_the_attempts_time_only():
    impl = module_from(
        "def busy(seconds):\n    import time\n    end = time.process_time() + seconds\n    while time.process_time() < end: pass\n"
    )
    door = object.__getattribute__(impl, "_door")
    door.install_timers()
    door.begin_test(0.5, 5.0)
    impl.busy(0.1)
    time_outside = time.process_time() + 0.6
    while time.process_time() < time_outside:  # the suite's own time: not counted
        pass
    impl.busy(0.1)
    assert 0.15 < door.cpu_used < 0.45
    with pytest.raises(KataTimeout) as timeout:
        impl.busy(5)
    assert timeout.value.kind == "cpu" and timeout.value.label == "busy"
    door.begin_test(float("inf"), float("inf"))  # the timers stop


def test_an_attempt_that_disarms_the_cpu_timer_is_still_over_its_limit_when_it_returns():
    impl = module_from(
        "import signal, time\n"
        "def dodge(seconds):\n"
        "    signal.setitimer(signal.ITIMER_PROF, 0)\n"
        "    end = time.process_time() + seconds\n"
        "    while time.process_time() < end: pass\n"
        "    return 'done'\n"
    )
    door = object.__getattribute__(impl, "_door")
    door.install_timers()
    door.begin_test(0.2, 5.0)
    try:
        with pytest.raises(KataTimeout) as timeout:
            impl.dodge(0.4)
        assert timeout.value.kind == "cpu" and door.fired == "cpu"
    finally:
        door.begin_test(float("inf"), float("inf"))


def test_an_attempt_that_waits_past_the_wall_limit_is_stopped_as_waiting():
    impl = module_from("import time\ndef wait(seconds):\n    time.sleep(seconds)\n")
    door = object.__getattribute__(impl, "_door")
    door.install_timers()
    door.begin_test(1.0, 0.3)
    try:
        impl.wait(0.01)  # well within the limit: returns
        with pytest.raises(KataTimeout) as timeout:
            impl.wait(30)
        assert timeout.value.kind == "wall" and timeout.value.label == "wait"
    finally:
        door.begin_test(float("inf"), float("inf"))


def test_the_origin_of_a_returned_copy_tells_a_live_object_handed_out_twice():
    from kata_runner.testing import origin_of

    impl = module_from(
        "state = [1]\ndef live():\n    return state\ndef fresh():\n    return list(state)\n"
    )
    first, second = impl.live(), impl.live()
    assert first is not second  # the suite holds copies
    assert origin_of(impl, first) == origin_of(impl, second)
    assert origin_of(impl, impl.fresh()) != origin_of(impl, impl.fresh())

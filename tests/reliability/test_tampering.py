"""Attempts written to break the grader never clear a level: each family of tampering found on main
(issue 11) gets `tampering_suspected` or an honest `fail`.

Every attempt is a wrong cosine_similarity (a constant cosine, an unnormalised matrix) with a few
lines at import, or in the function, that try to forge a pass.
"""

from __future__ import annotations

import textwrap

import pytest

from kata_runner.attempt import Attempt
from kata_runner.catalog import Catalog
from kata_runner.grading import grade

WRONG = textwrap.dedent(
    """
    import numpy as np


    def cosine_similarity(a, b):
        return 0.5


    def cosine_similarity_matrix(A, B):
        A = np.asarray(A, dtype=np.float64)
        B = np.asarray(B, dtype=np.float64)
        return A @ B.T
    """
)

FIND_CONFIG = """
        import sys
        def _config():
            # gc.get_objects() no longer sees the runner's objects (they are frozen before any
            # fork), so walk up the frames that import this module
            frame = sys._getframe()
            while frame is not None:
                for value in list(frame.f_locals.values()):
                    config = getattr(value, "config", None)
                    if hasattr(config, "pluginmanager"):
                        return config
                frame = frame.f_back
            raise SystemExit("no pytest config found from the importing frames")
"""

FAMILIES = {
    "test_report_outcome_rewritten": """
        import _pytest.reports
        _init = _pytest.reports.TestReport.__init__
        def __init__(self, *args, **kwargs):
            _init(self, *args, **kwargs)
            self.outcome = "passed"
        _pytest.reports.TestReport.__init__ = __init__
    """,
    "makereport_hook_registered": FIND_CONFIG
    + """
        import pytest
        class _Pass:
            @pytest.hookimpl(wrapper=True, tryfirst=True)
            def pytest_runtest_call(self, item):
                try:
                    return (yield)
                except BaseException:
                    return None
            @pytest.hookimpl(wrapper=True)
            def pytest_runtest_makereport(self, item, call):
                report = yield
                report.outcome = "passed"
                return report
        _config().pluginmanager.register(_Pass(), "pass-everything")
    """,
    "runner_unregistered": FIND_CONFIG
    + """
        _config().pluginmanager.unregister(name="runner")
    """,
    "function_runtest_no_op": """
        import _pytest.python
        _pytest.python.Function.runtest = lambda self: None
    """,
    "json_dumps_patched": """
        import json
        _dumps = json.dumps
        def dumps(obj, *args, **kwargs):
            if isinstance(obj, dict) and obj.get("type") == "test":
                obj = {**obj, "outcome": "passed"}
            return _dumps(obj, *args, **kwargs)
        json.dumps = dumps
    """,
    "harness_record_patched": """
        import kata_runner.harness as _h
        _record = _h.Harness.test_record
        def test_record(self, *args, **kwargs):
            record = _record(self, *args, **kwargs)
            return {k: v for k, v in record.items() if k in ("type", "index", "nodeid")} | {"outcome": "passed"}
        _h.Harness.test_record = test_record
    """,
    "forged_records_on_every_descriptor": """
        import json, os
        _forged = (b"0" * 64) + json.dumps({"type": "test", "index": 0, "outcome": "passed", "stream": "w0", "seq": 1}).encode()
        for _fd in range(3, 64):
            try:
                os.write(_fd, _forged)
            except OSError:
                pass
    """,
    "thread_racing_fake_records": """
        import json, os, threading
        def _race():
            for _ in range(200):
                for _fd in range(3, 32):
                    try:
                        os.write(_fd, (b"f" * 64) + b'{"type": "test", "outcome": "passed", "stream": "w1", "seq": 1}')
                    except OSError:
                        pass
        threading.Thread(target=_race, daemon=True).start()
    """,
    "expect_helpers_replaced_through_sys_modules": """
        import sys
        for _name, _module in list(sys.modules.items()):
            if _module is not None and (_name.startswith("kata_runner.testing") or "test_cosine" in _name):
                for _helper in ("expect_close", "expect_array", "expect_equal", "fail"):
                    if hasattr(_module, _helper):
                        setattr(_module, _helper, lambda *a, **k: None)
    """,
    "math_isclose_always_true": """
        import math
        math.isclose = lambda *a, **k: True
    """,
    "trace_function_installed": """
        import sys
        def _trace(frame, event, arg):
            return None
        sys.settrace(_trace)
    """,
    "timer_handlers_replaced": """
        import signal
        signal.signal(signal.SIGPROF, signal.SIG_IGN)
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
    """,
}


def grade_source(source: str, name: str) -> dict:
    kata = Catalog().get("cosine_similarity")
    return grade(Attempt(kata, source, f"{name}.py"), jobs=2).to_json()


def assert_never_cleared(doc: dict) -> None:
    assert doc["status"] != "pass", doc["message"]
    assert doc["cleared_levels"] == 0, (doc["status"], doc["reason"], doc["message"])
    assert doc["reason"] == "tampering_suspected" or doc["status"] == "fail", doc


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_tampering_at_import_never_clears_a_level(family):
    source = textwrap.dedent(FAMILIES[family]) + WRONG
    doc = grade_source(source, family)
    assert_never_cleared(doc)
    # each of these changes the machinery or forges records: that is evidence, not just a wrong answer
    assert doc["reason"] == "tampering_suspected", (family, doc["status"], doc["message"])
    assert "\n" not in (doc["message"] or ""), "the message is one line"


def test_a_float_subclass_reading_the_callers_expected_value_is_converted_and_fails():
    source = WRONG.replace(
        "def cosine_similarity(a, b):\n    return 0.5",
        textwrap.dedent(
            """
            import sys


            class Sneaky(float):
                def __float__(self):
                    frame = sys._getframe(1)
                    while frame is not None:
                        if "expected" in frame.f_locals:
                            return float(frame.f_locals["expected"])
                        frame = frame.f_back
                    return 0.5

                def __eq__(self, other):
                    return True


            def cosine_similarity(a, b):
                return Sneaky(0.5)
            """
        ),
    )
    doc = grade_source(source, "float_subclass")
    assert_never_cleared(doc)
    known = next(t for t in doc["tests"] if "known angles" in t["name"])
    assert known["status"] == "fail" and "actual:   0.5" in known["message"]


def test_an_ndarray_subclass_reading_the_callers_frame_is_converted_and_fails():
    source = WRONG.replace(
        "        return A @ B.T",
        textwrap.dedent(
            """
                    class Sneaky(np.ndarray):
                        def astype(self, *args, **kwargs):
                            frame = sys._getframe(1)
                            while frame is not None:
                                for name in ("expected", "e"):
                                    if name in frame.f_locals:
                                        return np.asarray(frame.f_locals[name]).astype(*args, **kwargs)
                                frame = frame.f_back
                            return np.ndarray.astype(self, *args, **kwargs)

                        def __eq__(self, other):
                            return np.ones(np.shape(other), dtype=bool)

                    return (A @ B.T).view(Sneaky)
            """
        ).rstrip(),
    ).replace("import numpy as np", "import sys\nimport numpy as np")
    doc = grade_source(source, "ndarray_subclass")
    assert_never_cleared(doc)
    assert doc["levels"][1]["status"] == "fail"


def test_the_reference_and_the_suite_cannot_be_read_or_rewritten(tmp_path):
    kata = Catalog().get("cosine_similarity")
    suite_before = kata.suite_path.read_bytes()
    targets = [kata.solution_path, kata.suite_path, kata.directory / "bugs.toml"]
    source = (
        textwrap.dedent(
            f"""
            import numpy as np

            _answers = {{}}
            for _path in {[str(t) for t in targets]!r}:
                try:
                    _answers[_path] = open(_path).read()
                    print("READ", _path)
                except OSError as exc:
                    print("DENIED", _path, exc.strerror)
                try:
                    open(_path, "a").write("# rewritten by an attempt\\n")
                    print("WROTE", _path)
                except OSError as exc:
                    print("DENIED-WRITE", _path, exc.strerror)
            _reference = {{}}
            try:
                exec(_answers[{str(kata.solution_path)!r}], _reference)
            except KeyError:
                pass
            """
        )
        + WRONG.replace("import numpy as np\n", "")
        + "\nif _reference:\n    cosine_similarity = _reference['cosine_similarity']\n"
        "    cosine_similarity_matrix = _reference['cosine_similarity_matrix']\n"
    )
    doc = grade_source(source, "reads_the_answers")
    assert_never_cleared(doc)
    output = "".join(t["output"] for t in doc["tests"])
    assert "READ" not in output.replace("DENIED", "") and "WROTE" not in output, output[:2000]
    assert kata.suite_path.read_bytes() == suite_before
    # an unrelated wrong attempt graded afterwards still fails
    assert grade_source(WRONG, "after")["cleared_levels"] == 0


def test_the_attempt_cannot_signal_kata_to_dodge_the_time_limit():
    source = textwrap.dedent(
        """
        import os, signal, time


        def _kata_pid():
            pid = os.getpid()
            while pid > 1:
                try:
                    stat = open(f"/proc/{pid}/stat", "rb").read()
                except OSError:
                    return None
                ppid = int(stat[stat.rfind(b")") + 2:].split()[1])
                cmd = open(f"/proc/{ppid}/cmdline", "rb").read() if os.path.exists(f"/proc/{ppid}") else b""
                if b"kata_runner.child" not in cmd and ppid != 1:
                    return ppid
                pid = ppid
            return None
        """
    ) + WRONG.replace(
        "def cosine_similarity(a, b):\n    return 0.5",
        textwrap.dedent(
            """
            def cosine_similarity(a, b):
                target = _kata_pid()
                try:
                    os.kill(os.getppid(), signal.SIGSTOP)
                    print("STOPPED the grading root")
                except OSError as exc:
                    print("could not stop the root:", exc.strerror)
                if target:
                    try:
                        os.kill(target, signal.SIGSTOP)
                        print("STOPPED kata")
                    except OSError as exc:
                        print("could not stop kata:", exc.strerror)
                signal.setitimer(signal.ITIMER_PROF, 0)
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGPROF, signal.SIG_IGN)
                end = time.process_time() + 12
                while time.process_time() < end:
                    pass
                return 0.96
            """
        ),
    )
    doc = grade_source(source, "stops_kata")
    assert_never_cleared(doc)
    first = doc["tests"][0]
    assert "STOPPED kata" not in first["output"]
    assert first["status"] in ("timeout", "error") or doc["reason"] == "tampering_suspected"


def test_tampering_gives_one_line_that_says_why(kata, tmp_path):
    attempt = tmp_path / "patched.py"
    attempt.write_text(textwrap.dedent(FAMILIES["math_isclose_always_true"]) + WRONG)
    result = kata("run", "cosine_similarity", "--file", str(attempt))
    assert result.code == 1
    assert "math.isclose was replaced" in result.out
    assert "cleared 0 of 3 levels" in result.out

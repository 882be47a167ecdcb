"""The suite toolkit: what a hidden suite needs besides its own properties.

- assertions: `fail`, `expect_equal`, `expect_close`, `expect_array`, `expect_tensor`,
  `expect_raises`, `show`, `call_repr`; every failure is headed by the statement's rule.
- calls: `returns` (an unexpected exception fails the rule being checked), `Trace` (records the
  program of calls made on an object, for messages), `origin_of` (which live object of the attempt
  a returned copy came from).
- tensors: seeded numpy and torch inputs that shrink.
- tolerances: one table by dtype.
- oracles: exact arithmetic shared by several suites.
- sleeps (`kata_runner.testing.sleeps`): `no_real_sleep`, for suites of katas that wait.
"""

from kata_runner.testing.assertions import (
    as_rule,
    call_repr,
    expect_array,
    expect_close,
    expect_equal,
    expect_raises,
    expect_tensor,
    fail,
    show,
)
from kata_runner.testing.calls import Trace, origin_of, raised_at, returns
from kata_runner.testing.oracles import exact_cosine, exact_cosine_key, exact_dot
from kata_runner.testing.tensors import randn, rng, torch_generator
from kata_runner.testing.tolerances import TOLERANCES, tolerance

__all__ = [
    "TOLERANCES",
    "Trace",
    "as_rule",
    "call_repr",
    "exact_cosine",
    "exact_cosine_key",
    "exact_dot",
    "expect_array",
    "expect_close",
    "expect_equal",
    "expect_raises",
    "expect_tensor",
    "fail",
    "origin_of",
    "raised_at",
    "randn",
    "returns",
    "rng",
    "show",
    "tolerance",
    "torch_generator",
]

"""`show`, how a failure message writes a value: an object of the attempt's making reads the same in
every run (no memory address), and a string is never rewritten."""

from __future__ import annotations

from kata_runner.testing import show


class Store:
    """An object with the default repr, `<module.Store object at 0x...>`."""


def test_an_object_with_the_default_repr_is_shown_without_its_address():
    assert show(Store()) == f"<{__name__}.Store object>"
    assert show([Store(), show]) == f"[<{__name__}.Store object>, <function show>]"


def test_a_string_that_looks_like_an_address_is_shown_as_it_is():
    assert show("<a at 0x1f>") == "'<a at 0x1f>'"
    assert show(["x at 0x12>"]) == "['x at 0x12>']"

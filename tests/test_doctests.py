"""Every example in the package's docstrings runs and prints what it says (two had gone stale
unnoticed: a seeded split after its shuffle changed, and a score at exactly its threshold)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import headwise

MODULES = sorted(m.name for m in pkgutil.walk_packages(headwise.__path__, "headwise."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    try:
        module = importlib.import_module(name)
    except ImportError as exc:  # an optional extra that is not installed
        pytest.skip(f"{name}: {exc}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False, report=False)  # fmt: skip
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (run doctest on it)"

"""The examples in the library's docstrings run as doctests (and so do those of the API reference site).

Every module of ``src/lacrima`` outside the Django app is imported and its docstrings' ``>>>`` examples
run with :mod:`doctest` (numbers compared as printed; ``...`` matches anything with ELLIPSIS).
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import lacrima

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(lacrima.__path__, "lacrima.")
    if not m.name.startswith("lacrima.web") and not m.name.endswith("__main__")
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _tests(name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    return [t for t in finder.find(module, name) if t.examples]


WITH_EXAMPLES = [name for name in MODULES if _tests(name)]


def test_there_are_examples_to_run() -> None:
    assert len(WITH_EXAMPLES) >= 5, WITH_EXAMPLES


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_the_docstring_examples_run(name: str) -> None:
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in _tests(name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (see above)"

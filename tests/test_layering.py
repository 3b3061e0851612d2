"""Layers that show the flow: no package imports another package's private module.

A private module (``lacrima.analysis._runner``) or private name (``_helper``) belongs to the package that
holds it; that package and the packages inside it may import it. What several packages share is promoted to
a public module of its owner (``lacrima.analysis.runner``, ``lacrima.report.render``). The root package's
private modules (``lacrima._results``) are the library core every package is part of.

The test reads every module of ``src/lacrima`` (imports inside functions included) without importing it.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _module_and_package(path: Path) -> tuple[str, str]:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def _imported(tree: ast.AST, package: str) -> list[tuple[int, str]]:
    """(line, dotted name) of every module and name an import statement brings in."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            out.append((node.lineno, module))
            out.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
    return out


def _violations() -> list[str]:
    found: list[str] = []
    for path in sorted((SRC / "lacrima").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module, package = _module_and_package(path)
        for line, name in _imported(ast.parse(path.read_text(encoding="utf-8")), package):
            if not name.startswith("lacrima"):
                continue
            segments = name.split(".")
            for i, segment in enumerate(segments):
                if segment.startswith("_") and not segment.startswith("__"):
                    owner = ".".join(segments[:i])
                    if package != owner and not package.startswith(owner + "."):
                        found.append(f"{module} (line {line}) imports {name}, private to {owner}")
                    break
    return found


def test_no_package_imports_another_packages_private_module() -> None:
    assert _violations() == []


def test_the_check_sees_a_violation() -> None:
    tree = ast.parse("from lacrima.analysis._runner import run_plan\nfrom ._format import fmt_p\n")
    names = [name for _, name in _imported(tree, "lacrima.report")]
    assert "lacrima.analysis._runner" in names
    assert "lacrima.report._format.fmt_p" in names

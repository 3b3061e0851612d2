"""Build step: compile the web app's gettext catalogs into the package (metadata is in pyproject.toml)."""

import runpy
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildPyWithCatalogs(build_py):
    def run(self) -> None:
        catalogs = runpy.run_path(str(HERE / "src" / "lacrima" / "web" / "catalogs.py"))
        catalogs["compile_catalogs"](force=True)
        super().run()


setup(cmdclass={"build_py": BuildPyWithCatalogs})

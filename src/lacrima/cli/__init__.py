"""lacrima's command line: a thin layer over the library (``lacrima --help``)."""

from lacrima.cli._app import app, main

__all__ = ["app", "main"]

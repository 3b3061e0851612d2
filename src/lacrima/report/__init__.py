"""Reports: the battery as a self-contained HTML file, DOCX tables and JSON. The only package that rounds."""

from lacrima.report._study import Report, analyze

__all__ = ["Report", "analyze"]

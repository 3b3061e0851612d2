"""What other packages (``cli``, ``web``) use from ``report``: the HTML of a report, the client's alliance
chart, the pooled consortium report, and the number formats (the only place numbers are rounded)."""

from lacrima.report._format import fmt_ci, fmt_int, fmt_num, fmt_p, fmt_r
from lacrima.report._longitudinal_figures import client_alliance_chart
from lacrima.report._pooled import render_pooled
from lacrima.report._render import build_html

__all__ = [
    "build_html",
    "client_alliance_chart",
    "fmt_ci",
    "fmt_int",
    "fmt_num",
    "fmt_p",
    "fmt_r",
    "render_pooled",
]

"""A small builder for one self-contained HTML report (inline CSS, figures as inline SVG)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from lacrima.report._chart import Chart

__all__ = ["HtmlReport", "Section", "table_html"]

CSS = """
:root { --ink: #1f2430; --muted: #5b6475; --rule: #c9ced8; --accent: #2f5d8a; --bg: #ffffff; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Serif", Georgia, "Times New Roman", serif; color: var(--ink);
  background: var(--bg);  max-width: 62rem; margin: 0 auto; padding: 2rem 1.25rem 4rem; line-height: 1.5; }
h1 { font-size: 1.9rem; margin-bottom: .2rem; }
h2 { font-size: 1.35rem; margin-top: 2.4rem; border-bottom: 1px solid var(--rule); padding-bottom: .2rem; }
h3 { font-size: 1.1rem; margin-top: 1.6rem; }
p.meta { color: var(--muted); margin-top: 0; }
nav.toc { background: #f5f7fa; border: 1px solid var(--rule); padding: .6rem 1rem; border-radius: 6px; }
nav.toc ol { margin: .2rem 0; padding-left: 1.2rem; }
table.apa { border-collapse: collapse; margin: .6rem 0 1.4rem; font-size: .92rem; width: auto;
  font-variant-numeric: tabular-nums; }
table.apa caption { text-align: left; caption-side: top; padding-bottom: .4rem; }
table.apa caption .num { font-weight: bold; display: block; }
table.apa caption .title { font-style: italic; }
table.apa thead th { border-top: 2px solid var(--ink); border-bottom: 1px solid var(--ink);
  padding: .3rem .6rem; text-align: center; font-weight: normal; }
.table-wrap { overflow-x: auto; }
table.apa tbody td { padding: .22rem .6rem; text-align: right; white-space: nowrap; vertical-align: top; }
table.apa tbody td.text { text-align: left; white-space: normal; min-width: 8rem; }
table.apa thead th.text { text-align: left; }
table.apa tbody tr:last-child td { border-bottom: 2px solid var(--ink); }
p.note { font-size: .85rem; color: var(--muted); margin-top: -1rem; }
figure { margin: 1rem 0 1.8rem; }
figure svg.chart { display: block; max-width: 100%; height: auto; border: 1px solid #eef0f4; }
figcaption { font-size: .9rem; color: var(--muted); }
figcaption .num { font-weight: bold; color: var(--ink); }
.warning { background: #fff6e0; border-left: 4px solid #d59a00; padding: .5rem .8rem; margin: .8rem 0; }
.ok { color: #1f7a3a; } .bad { color: #a8322d; } .mixed { color: #9a6a00; }
@media print { nav.toc { display: none; } body { max-width: none; } }
"""


def table_html(
    frame: pd.DataFrame,
    *,
    number: int,
    title: str,
    note: str = "",
    index: bool = False,
    table_id: str | None = None,
) -> str:
    """An APA-style table from an already formatted (string) DataFrame."""
    cols = ([str(frame.index.name or "")] if index else []) + [str(c) for c in frame.columns]
    body = [([str(idx)] if index else []) + ["" if v is None else str(v) for v in row.tolist()]
            for idx, row in frame.iterrows()]  # fmt: skip
    text_cols = {j for j in range(len(cols)) if any(_is_text(r[j]) for r in body)}
    if index:
        text_cols.add(0)

    def cls(j: int) -> str:
        return ' class="text"' if j in text_cols else ""

    head = "".join(f"<th{cls(j)}>{html.escape(c)}</th>" for j, c in enumerate(cols))
    rows = []
    for cells in body:
        tds = "".join(f"<td{cls(j)}>{html.escape(c)}</td>" for j, c in enumerate(cells))
        rows.append(f"<tr>{tds}</tr>")
    ident = f' id="{html.escape(table_id)}"' if table_id else ""
    out = (
        f'<table class="apa"{ident}><caption><span class="num">Table {number}</span>'
        f'<span class="title">{html.escape(title)}</span></caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    out = f'<div class="table-wrap">{out}'
    out += "</div>"
    if note:
        out += f'<p class="note"><em>Note.</em> {html.escape(note)}</p>'
    return out


_NUMERIC = re.compile(r"^[\s\d.,\[\]()<>=\u2212\u2014\u2013%\-+\u221e]*$")


def _is_text(cell: str) -> bool:
    """Whether a cell holds words (left-aligned) rather than numbers (right-aligned)."""
    return bool(cell) and not _NUMERIC.match(cell) and len(cell) > 12


@dataclass
class Section:
    title: str
    anchor: str
    parts: list[str] = field(default_factory=list)


@dataclass
class HtmlReport:
    """Accumulates sections, numbered tables and figures; writes one self-contained HTML file."""

    title: str
    subtitle: str = ""
    language: str = "en"
    sections: list[Section] = field(default_factory=list)
    _tables: int = 0
    _figures: int = 0

    def section(self, title: str) -> Section:
        anchor = "s" + str(len(self.sections) + 1)
        sec = Section(title=title, anchor=anchor)
        self.sections.append(sec)
        return sec

    def paragraph(self, section: Section, text: str) -> None:
        section.parts.append(f"<p>{html.escape(text)}</p>")

    def raw(self, section: Section, markup: str) -> None:
        section.parts.append(markup)

    def warning(self, section: Section, text: str) -> None:
        section.parts.append(f'<div class="warning" role="note">{html.escape(text)}</div>')

    def table(
        self, section: Section, frame: pd.DataFrame, title: str, note: str = "", index: bool = False
    ) -> int:
        self._tables += 1
        section.parts.append(
            table_html(
                frame, number=self._tables, title=title, note=note, index=index, table_id=f"t{self._tables}"
            )
        )
        return self._tables

    def figure(self, section: Section, chart: Chart, caption: str, alt: str) -> int:
        self._figures += 1
        svg = chart.to_svg(ident=f"f{self._figures}", description=alt)
        section.parts.append(
            f'<figure id="f{self._figures}">{svg}'
            f'<figcaption><span class="num">Figure {self._figures}.</span> {html.escape(caption)}'
            "</figcaption></figure>"
        )
        return self._figures

    @property
    def n_tables(self) -> int:
        return self._tables

    @property
    def n_figures(self) -> int:
        return self._figures

    def render(self) -> str:
        toc = "".join(f'<li><a href="#{s.anchor}">{html.escape(s.title)}</a></li>' for s in self.sections)
        body = "".join(
            f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>{"".join(s.parts)}</section>'
            for s in self.sections
        )
        sub = f'<p class="meta">{html.escape(self.subtitle)}</p>' if self.subtitle else ""
        return (
            f'<!DOCTYPE html><html lang="{html.escape(self.language)}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(self.title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{html.escape(self.title)}</h1>{sub}</header>"
            f'<nav class="toc" aria-label="Contents"><strong>Contents</strong><ol>{toc}</ol></nav>'
            f"<main>{body}</main></body></html>"
        )

    def write(self, path: str | Path) -> Path:
        """Write atomically (temporary file, then rename) so a failed run leaves no half report."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.write_text(self.render(), encoding="utf-8")
        tmp.replace(target)
        return target

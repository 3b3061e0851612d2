"""Manuscript-ready tables as a DOCX file (python-docx): scorecard, descriptives and reliabilities,
correlations, group comparisons. Figures stay in the HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from lacrima.report._format import fmt_ci, fmt_int, fmt_num, fmt_p, fmt_r
from lacrima.report._labels import label

if TYPE_CHECKING:
    from lacrima.report._study import Report


def _add_table(doc: object, number: int, title: str, frame: pd.DataFrame, note: str = "") -> None:
    from docx.shared import Pt

    p = doc.add_paragraph()  # type: ignore[attr-defined]
    p.add_run(f"Table {number}").bold = True
    t = doc.add_paragraph()  # type: ignore[attr-defined]
    t.add_run(title).italic = True
    table = doc.add_table(rows=1, cols=len(frame.columns))  # type: ignore[attr-defined]
    for j, col in enumerate(frame.columns):
        table.rows[0].cells[j].text = str(col)
    for _, row in frame.iterrows():
        cells = table.add_row().cells
        for j, v in enumerate(row.tolist()):
            cells[j].text = str(v)
    for row in table.rows:
        for cell in row.cells:
            for para in cell.paragraphs:
                for run in para.runs:
                    run.font.size = Pt(9)
    if note:
        n = doc.add_paragraph()  # type: ignore[attr-defined]
        n.add_run("Note. ").italic = True
        n.add_run(note)


def render_docx(report: Report, path: str | Path) -> Path:
    """Write APA-style tables to ``path`` (atomically)."""
    from docx import Document

    doc = Document()
    doc.add_heading(report.title, level=1)
    number = 0
    rows = []
    for r in report.plan_results.results:
        bounded = r.effect in ("r", "partial r", "rho")
        est = fmt_r(r.estimate) if bounded else fmt_num(r.estimate)
        rows.append(
            {
                "Hypothesis": f"{r.hypothesis.id}. {r.hypothesis.title}",
                "Effect": "not run" if r.error else f"{r.effect} = {est} {fmt_ci(*r.ci, bounded=bounded)}",
                "p (adj.)": fmt_p(r.p_adjusted),
                "n": fmt_int(r.n) if not r.error else "\u2014",
                "Verdict": r.verdict,
            }
        )
    number += 1
    _add_table(
        doc, number, "Replication scorecard", pd.DataFrame(rows), "p values corrected within families."
    )
    if not report.measures.empty:
        rel = report.reliabilities
        rel_all = rel[rel["group"] == "All"] if not rel.empty else rel
        m_rows = []
        for _, m in report.measures.iterrows():
            rr = rel_all[rel_all["column"] == m["column"]] if not rel_all.empty else rel_all
            m_rows.append(
                {
                    "Scale": label(str(m["column"])),
                    "n": fmt_int(m["n"]),
                    "M": fmt_num(m["mean"]),
                    "SD": fmt_num(m["sd"]),
                    "\u03b1": fmt_r(rr["alpha"].iloc[0]) if len(rr) else "\u2014",
                    "\u03c9": fmt_r(rr["omega"].iloc[0]) if len(rr) else "\u2014",
                }
            )
        number += 1
        _add_table(doc, number, "Descriptive statistics and reliabilities", pd.DataFrame(m_rows))
    cors = [r for r in report.plan_results.results if r.hypothesis.test == "correlate" and not r.error]
    if cors:
        c_rows = [
            {
                "Hyp.": r.hypothesis.id,
                "Variables": f"{label(r.hypothesis.columns['x'])} \u2013 {label(r.hypothesis.columns['y'])}",
                "Controlling for": ", ".join(label(c) for c in r.hypothesis.columns.get("covar", ()))
                or "\u2014",
                "r": fmt_r(r.estimate),
                "95% CI": fmt_ci(*r.ci, bounded=True),
                "p (adj.)": fmt_p(r.p_adjusted),
                "n": fmt_int(r.n),
            }
            for r in cors
        ]
        number += 1
        _add_table(doc, number, "Correlations and partial correlations", pd.DataFrame(c_rows))
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    doc.save(str(tmp))
    tmp.replace(target)
    return target

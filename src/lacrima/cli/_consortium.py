"""Consortium commands: ``lacrima site-summary`` (at each site) and ``lacrima pool`` (at the coordinator).

Commands parse arguments, call the library and print; no statistics here. :func:`register` adds both
commands to a Typer application (``lacrima.cli._app`` calls it).

Which rows a site summary covers
--------------------------------
A site summary is over one row set. By default ``site-summary`` takes the analysis plan's correlation
hypotheses: their ``subset`` selects the rows (the published battery: clients who cried in therapy,
``cried_in_therapy = 1``), and the union of their ``x``, ``y`` and ``covar`` columns are the variables. The
subset columns are also shared as category counts, so the coordinator can check the row set. When the
selected hypotheses use different subsets, the command stops and asks for ``--hypotheses`` (one summary per
row set, pooled separately): two overlapping summaries over nearly the same rows could reveal the people
in the difference.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from lacrima.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pandas as pd

    from lacrima.analysis.plan import Hypothesis
    from lacrima.crosscultural import SiteSummary

__all__ = ["register"]

console = Console()
err_console = Console(stderr=True)


def _fail(exc: Exception) -> None:
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code=2)


def _names(values: list[str] | None) -> list[str]:
    """Comma-separated and repeated options as one list (``--variables a,b --variables c``)."""
    out: list[str] = []
    for value in values or []:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return list(dict.fromkeys(out))


def _read(path: Path, mapping: Path | None, fmt: str, dictionary: Path | None) -> pd.DataFrame:
    from lacrima.io import read_qualtrics, read_redcap, read_sqlite, read_table

    if fmt == "redcap":
        if dictionary is None:
            raise DataError("a REDCap export needs --dictionary (the project's data dictionary CSV)")
        result = read_redcap(path, dictionary, mapping=mapping)
    elif fmt == "qualtrics":
        result = read_qualtrics(path, mapping=mapping)
    elif fmt != "auto":
        raise DataError(f"--format must be auto, redcap or qualtrics, not {fmt!r}")
    elif path.suffix in (".sqlite3", ".sqlite", ".db"):
        return read_sqlite(path, "respondents")
    else:
        result = read_table(path, mapping=mapping)
    for note in result.notes:
        err_console.print(f"[yellow]note:[/] {note}", highlight=False)
    return result.data


def _score_columns() -> set[str]:
    from lacrima.instruments import list_instruments, load_instrument

    out: set[str] = set()
    for iid in list_instruments():
        ins = load_instrument(iid)
        out.update(f"{ins.prefix}_{name}" for name in ins.subscales)
    return out


def _scored(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The score columns: already scored ones in the file win over scores computed from items."""
    import lacrima as lc

    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = lc.score_all(frame, strict=False)
    notes.extend(f"scoring: {w.message}" for w in caught)
    known = _score_columns()
    present = [c for c in frame.columns if str(c) in known]
    computed = result.scores.drop(columns=[c for c in result.scores.columns if c in frame.columns])
    scores = frame[present].join(computed) if len(computed.columns) else frame[present].copy()
    if result.scored:
        notes.append(f"scored {', '.join(result.scored)}")
    return scores, notes


def _subset_key(h: Hypothesis) -> str:
    if not h.subset:
        return "all rows"
    return "; ".join(f"{col} in {v if isinstance(v, list | tuple) else [v]}" for col, v in h.subset.items())


def _plan_hypotheses(plan: Path | None, wanted: list[str]) -> tuple[list[Hypothesis], str]:
    from lacrima.analysis.plan import load_plan

    the_plan = load_plan(plan)
    correlations = [h for h in the_plan.hypotheses if h.test == "correlate"]
    if wanted:
        ids = {h.id for h in the_plan.hypotheses}
        unknown = [w for w in wanted if w not in ids]
        if unknown:
            raise DataError(
                f"--hypotheses names {unknown}, not in the plan {the_plan.name!r} ({sorted(ids)})"
            )
        not_corr = [w for w in wanted if w not in {h.id for h in correlations}]
        if not_corr:
            raise DataError(
                f"hypotheses {not_corr} are not correlations; a site summary pools correlations and partial "
                "correlations only"
            )
        correlations = [h for h in correlations if h.id in wanted]
    if not correlations:
        raise DataError(
            f"the plan {the_plan.name!r} has no correlation hypotheses; name the columns with --variables"
        )
    groups: dict[str, list[str]] = {}
    for h in correlations:
        groups.setdefault(_subset_key(h), []).append(h.id)
    if len(groups) > 1:
        listing = "; ".join(f"{key}: {', '.join(ids)}" for key, ids in groups.items())
        raise DataError(
            "the plan's correlation hypotheses select different rows ("
            + listing
            + "). A site summary covers "
            "one row set: run site-summary once per group with --hypotheses (e.g. --hypotheses "
            f"{','.join(next(iter(groups.values())))}) and pool each group separately"
        )
    return correlations, the_plan.name


def site_summary_command(
    data: Annotated[Path, typer.Argument(help="Survey file: CSV, TSV, Excel, SPSS .sav, Parquet or SQLite.")],
    site: Annotated[str, typer.Option(help="This site's label, e.g. rome.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Site summary to write (JSON).")],
    variables: Annotated[
        list[str] | None,
        typer.Option(help="Score columns to summarise, comma-separated (default: those the plan needs)."),
    ] = None,
    categorical: Annotated[
        list[str] | None,
        typer.Option(help="Columns whose category counts are shared, comma-separated (e.g. gender)."),
    ] = None,
    min_cell: Annotated[int, typer.Option(help="Suppress counts below this.")] = 5,
    plan: Annotated[
        Path | None, typer.Option(help="Analysis plan (YAML); default: the published battery.")
    ] = None,
    hypotheses: Annotated[
        list[str] | None,
        typer.Option(help="Only these correlation hypotheses of the plan (ids, comma-separated)."),
    ] = None,
    instrument_map: Annotated[
        Path | None, typer.Option("--instrument-map", help="YAML mapping of your columns to item columns.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="auto, redcap or qualtrics.")] = "auto",
    dictionary: Annotated[Path | None, typer.Option(help="REDCap data dictionary (CSV).")] = None,
) -> None:
    """Score a site's survey file and write its site summary: aggregates only, small cells suppressed."""
    from lacrima.crosscultural.federated import site_summary, write_site_summary

    try:
        chosen, plan_name = _plan_hypotheses(plan, _names(hypotheses))
        frame = _read(data, instrument_map, fmt, dictionary)
        scores, notes = _scored(frame)
        subset_cols = list(dict.fromkeys(col for h in chosen for col in h.subset))
        cats = list(dict.fromkeys([*_names(categorical), *subset_cols]))
        wanted = _names(variables)
        if not wanted:
            for h in chosen:
                wanted.extend([str(h.columns["x"]), str(h.columns["y"]), *h.columns.get("covar", ())])
            wanted = list(dict.fromkeys(wanted))
        missing_cols = [c for c in cats if c not in frame.columns]
        if missing_cols:
            raise DataError(
                f"the data has no column(s) {missing_cols} (needed for --categorical or the subset)"
            )
        extra = [v for v in wanted if v not in scores.columns and v in frame.columns]
        table = scores.join(frame[[c for c in [*cats, *extra] if c not in scores.columns]])
        rows = chosen[0].select(table) if chosen else table
        outside = len(table) - len(rows)
        pairs = {
            h.id: (str(h.columns["x"]), str(h.columns["y"]))
            for h in chosen
            if not h.columns.get("covar") and h.columns["x"] in wanted and h.columns["y"] in wanted
        }
        summary = site_summary(rows, wanted, site=site, categorical=cats, min_cell=min_cell, pairs=pairs)
        out.parent.mkdir(parents=True, exist_ok=True)
        written = write_site_summary(summary, out)
    except DataError as exc:
        _fail(exc)
        return
    for note in notes:
        err_console.print(f"[yellow]note:[/] {note}", highlight=False)
    _print_summary(summary, plan_name, chosen, outside, written)


def _print_summary(
    summary: Mapping[str, Any], plan_name: str, chosen: list[Hypothesis], outside: int, written: Path
) -> None:
    console.print(f"site {summary['site']}: {summary['n']} rows summarised", highlight=False)
    console.print(
        f"  rows: {_subset_key(chosen[0])} (plan {plan_name!r}; {outside} rows outside the subset were not "
        f"summarised); {summary['n_excluded']} rows excluded for a missing answer",
        highlight=False,
    )
    console.print(f"  variables: {', '.join(summary['variables'])}", highlight=False)
    for var, cells in summary["counts"].items():
        shown = ", ".join(f"{level}: {'suppressed' if c is None else c}" for level, c in cells.items())
        console.print(f"  counts of {var}: {shown}", highlight=False)
    hidden = [f"{s['variable']}={s['level']}" for s in summary["suppressed"]]
    console.print(
        f"  suppressed cells (< {summary['min_cell']}): {', '.join(hidden) if hidden else 'none'}",
        highlight=False,
    )
    console.print(
        f"  effects for the meta-analysis: {', '.join(summary['effects']) or 'none'}", highlight=False
    )
    console.print(f"-> {written}  (aggregates only; read it before you send it)", highlight=False)


def _load(path: Path) -> SiteSummary:
    from lacrima.crosscultural.federated import read_site_summary

    if path.is_dir():
        raise DataError(f"{path} is a directory; give the site summary files (e.g. {path}/*.json)")
    try:
        return read_site_summary(path)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None


def pool_command(
    summaries: Annotated[list[Path], typer.Argument(help="Site summary files (JSON), one per site.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML report to write.")] = Path("pooled.html"),
    plan: Annotated[
        Path | None, typer.Option(help="Analysis plan (YAML); default: the published battery.")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the pooled results as JSON here.")
    ] = None,
    method: Annotated[str, typer.Option(help="tau² estimator: REML, DL, PM, ML or FE.")] = "REML",
    title: Annotated[str | None, typer.Option(help="Report title.")] = None,
) -> None:
    """Validate site summaries, pool them exactly and write the consortium report."""
    from lacrima.crosscultural import pool_plan
    from lacrima.report.render import render_pooled

    try:
        if method not in ("REML", "DL", "PM", "ML", "FE"):
            raise DataError(f"--method must be REML, DL, PM, ML or FE, not {method!r}")
        loaded = [_load(p) for p in summaries]
        report = pool_plan(
            loaded,
            plan,
            sources=[p.name for p in summaries],
            title=title,
            method=method,  # type: ignore[arg-type]
        )
        html = render_pooled(report, out)
        written_json = report.to_json(json_out) if json_out is not None else None
    except DataError as exc:
        _fail(exc)
        return
    pooled = report.pooled
    sites = ", ".join(f"{s} (n = {n})" for s, n in pooled.site_n.items())
    console.print(f"pooled {len(pooled.sites)} sites: {sites}; N = {pooled.n}", highlight=False)
    console.print(
        f"hypotheses pooled: {', '.join(h.hypothesis.id for h in report.hypotheses) or 'none'}",
        highlight=False,
    )
    if report.not_pooled:
        console.print(f"not pooled: {', '.join(hid for hid, _ in report.not_pooled)}", highlight=False)
    for note in report.notes:
        err_console.print(f"[yellow]note:[/] {note}", highlight=False)
    console.print(f"Report: {html}", highlight=False)
    if written_json is not None:
        console.print(f"JSON:   {written_json}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``site-summary`` and ``pool`` to a Typer application."""
    app.command("site-summary")(site_summary_command)
    app.command("pool")(pool_command)

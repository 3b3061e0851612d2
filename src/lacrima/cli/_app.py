"""Typer application. Commands parse arguments, call the library and print; no statistics here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from lacrima.cli._clinic import register as register_clinic
from lacrima.cli._consortium import register as register_consortium
from lacrima.cli._ops import register as register_ops
from lacrima.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

app = typer.Typer(
    name="lacrima",
    help="Study and use client crying in psychotherapy: collect, score, analyse, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
instruments_app = typer.Typer(help="List and show the shipped instruments.", no_args_is_help=True)
app.add_typer(instruments_app, name="instruments")

console = Console()
err_console = Console(stderr=True)


def _fail(exc: Exception) -> None:
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code=2)


@instruments_app.command("list")
def instruments_list() -> None:
    """List the shipped instruments with their subscales."""
    from lacrima.instruments import list_instruments, load_instrument

    table = Table(title="Shipped instruments")
    for col in ("id", "name", "items", "subscales", "languages", "item text"):
        table.add_column(col)
    for iid in list_instruments():
        ins = load_instrument(iid)
        table.add_row(
            ins.id,
            ins.name,
            str(len(ins.items)),
            ", ".join(ins.subscales),
            ", ".join(ins.languages),
            "shipped" if ins.redistribute_text else "licensed: supply your own",
        )
    console.print(table)


@instruments_app.command("show")
def instruments_show(
    instrument: Annotated[str, typer.Argument(help="Instrument id, e.g. wai_sr, or a YAML path.")],
    language: Annotated[str, typer.Option("--language", "-l", help="Language of item text.")] = "en",
) -> None:
    """Show one instrument's items, keys and subscales."""
    from lacrima.instruments import load_instrument

    try:
        ins = load_instrument(instrument)
    except DataError as exc:
        _fail(exc)
        return
    console.print(f"[bold]{ins.name}[/] ({ins.id}, version {ins.version})")
    console.print(f"Source: {ins.source}")
    console.print(f"Licence: {ins.licence}")
    console.print(f"Scale: {ins.scale.min:g}-{ins.scale.max:g}")
    table = Table()
    for col in ("column", "reverse", "subscales", "text"):
        table.add_column(col)
    for it in ins.items:
        subs = [name for name, s in ins.subscales.items() if it.number in s.items]
        table.add_row(
            it.column, "yes" if it.reverse else "", ", ".join(subs), it.text_in(language) or "(not shipped)"
        )
    console.print(table)


def _read_any(path: Path, mapping: Path | None) -> pd.DataFrame:
    from lacrima.io import read_table

    if path.suffix in (".sqlite3", ".sqlite", ".db"):
        from lacrima.io import read_sqlite

        return read_sqlite(path, "respondents")
    result = read_table(path, mapping=mapping)
    for note in result.notes:
        err_console.print(f"[yellow]note:[/] {note}", highlight=False)
    return result.data


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Directory for the database and the report.")] = Path(
        "lacrima-demo"
    ),
    seed: Annotated[int, typer.Option(help="Seed of the synthetic study.")] = 2024,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples per hypothesis.")] = 2000,
) -> None:
    """Simulate a three-site study (Italy, Israel, U.S.), store it in SQLite, score it, analyse it and write
    the HTML report."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    import lacrima as lc
    from lacrima.io import write_sqlite

    out.mkdir(parents=True, exist_ok=True)
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("Simulating a three-site study", total=5)
        study = lc.simulate_study(seed=seed)
        sessions = lc.simulate_sessions(n_clients=300, n_therapists=30, sessions=(8, 20), seed=seed)
        bar.update(task, advance=1, description="Storing it in SQLite")
        db = write_sqlite(
            {"respondents": study.data, "sessions": sessions.data, "session_clients": sessions.clients},
            out / "lacrima.sqlite3",
        )
        bar.update(task, advance=1, description="Scoring and running the replication battery")
        data = lc.read_sqlite(db, "respondents")
        report = lc.analyze(
            data,
            seed=seed,
            n_boot=n_boot,
            title="lacrima demo: a synthetic three-site study",
            multisite=True,
            sessions=lc.read_sqlite(db, "sessions"),
        )
        bar.update(task, advance=1, description="Writing the report")
        html_path = report.to_html(out / "report.html")
        report.to_docx(out / "tables.docx")
        report.to_json(out / "results.json")
        bar.update(task, advance=1, description="Seeding the demo clinic (two therapists, 40 clients)")
        from lacrima.cli._clinic import seed_demo

        credentials, n_clients, n_sessions = seed_demo(out, seed)
        bar.update(task, advance=1, description="Done")
    _summary(report)
    console.print(f"Database: {db}")
    console.print(f"Report:   {html_path}  (open it in a browser; it works offline)")
    console.print(f"Tables:   {out / 'tables.docx'}   Results: {out / 'results.json'}")
    console.print(
        f"Clinic:   {n_clients} clients, {n_sessions} sessions; accounts and passwords in {credentials}; "
        "the server's worker computes scores and alerts in its first minute"
    )
    console.print(
        f"Open it:  lacrima serve --data {out}  (log in as demo-therapist with its password; on this data "
        "directory the demo's accounts need no second factor)"
    )


def _summary(report: object) -> None:
    from lacrima.report import Report

    if not isinstance(report, Report):
        return
    table = Table(title="Replication scorecard")
    for col in ("hypothesis", "effect", "p (adj.)", "n", "verdict"):
        table.add_column(col)
    from lacrima.report.render import fmt_ci, fmt_num, fmt_p

    for r in report.plan_results.results:
        effect = "not run" if r.error else f"{r.effect} = {fmt_num(r.estimate)} {fmt_ci(*r.ci)}"
        table.add_row(r.hypothesis.id, effect, fmt_p(r.p_adjusted), str(r.n), r.verdict)
    console.print(table)


@app.command()
def analyze(
    data: Annotated[Path, typer.Argument(help="Survey file: CSV, TSV, Excel, SPSS .sav, Parquet or SQLite.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML report to write.")] = Path("report.html"),
    plan: Annotated[
        Path | None, typer.Option(help="Analysis plan (YAML); default: the published battery.")
    ] = None,
    instrument_map: Annotated[
        Path | None, typer.Option("--instrument-map", help="YAML mapping of your columns to item columns.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for bootstrap resampling.")] = 2024,
    n_boot: Annotated[int | None, typer.Option(help="Bootstrap resamples (default: the plan's).")] = None,
    bootstrap: Annotated[bool, typer.Option(help="Compute bootstrap intervals.")] = True,
    docx: Annotated[Path | None, typer.Option(help="Also write DOCX tables here.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write all results as JSON here.")
    ] = None,
    multisite: Annotated[
        bool,
        typer.Option(help="Add the cross-cultural section (per-site battery, meta-analysis, invariance)."),
    ] = False,
) -> None:
    """Score a survey file, run the analysis plan and write the HTML report."""
    import lacrima as lc

    try:
        frame = _read_any(data, instrument_map)
        report = lc.analyze(frame, plan, seed=seed, n_boot=n_boot, bootstrap=bootstrap, multisite=multisite)
    except DataError as exc:
        _fail(exc)
        return
    path = report.to_html(out)
    if docx is not None:
        report.to_docx(docx)
    if json_out is not None:
        report.to_json(json_out)
    _summary(report)
    console.print(f"Report: {path}")


@app.command("import")
def import_(
    source: Annotated[
        Path, typer.Argument(help="CSV, TSV, Excel, SPSS .sav, Parquet, REDCap or Qualtrics file.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Where to write (.csv, .sav, .parquet or .xlsx); further tables (sessions, repeating "
            "instruments) go beside it as <name>.<table>.<ext>.",
        ),
    ],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="auto (tell REDCap, Qualtrics and plain tables apart), table, redcap or qualtrics.",
        ),
    ] = "auto",
    dictionary: Annotated[
        Path | None, typer.Option(help="REDCap data dictionary (CSV); implies --format redcap.")
    ] = None,
    mapping: Annotated[Path | None, typer.Option(help="YAML mapping of source columns to items.")] = None,
    instrument: Annotated[
        list[str] | None, typer.Option(help="Instrument ids to check answers against.")
    ] = None,
    missing_code: Annotated[
        list[str] | None,
        typer.Option(
            help="Codes meaning 'no answer': repeat for several (--missing-code -99 --missing-code UNK) or "
            "give REDCap's form ('UNK, Unknown | NASK, Not asked')."
        ),
    ] = None,
    sheet: Annotated[
        str | None, typer.Option(help="Excel: the sheet to read (a name, or a position counted from 0).")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Text files: the encoding (e.g. cp1255); default: detected.")
    ] = None,
    session_instrument: Annotated[
        str | None, typer.Option(help="REDCap: the repeating instrument that holds session check-ins.")
    ] = None,
    drop_identifiers: Annotated[
        bool,
        typer.Option(
            help="REDCap: leave out fields the dictionary flags as identifiers (Qualtrics exports always "
            "lose IP address, name, e-mail and location)."
        ),
    ] = False,
) -> None:
    """Import a file into lacrima's tables, checking every answer, and write each with a codebook."""
    from lacrima.io import read_export, write_result

    try:
        result = read_export(
            source,
            format=fmt,
            dictionary=dictionary,
            mapping=mapping,
            instruments=instrument,
            missing=missing_code or None,
            session_instrument=session_instrument,
            drop_identifiers=drop_identifiers,
            sheet=sheet,
            encoding=encoding,
        )
        written = write_result(result, out)
    except DataError as exc:
        _fail(exc)
        return
    for note in result.notes:
        console.print(f"note: {note}", highlight=False)
    for reason, n in result.excluded.items():
        console.print(f"excluded: {n:,} rows ({reason})", highlight=False)
    for name, frame, _ in result.all_tables():
        label = "main table" if name is None else f"table {name}"
        console.print(f"{label}: {len(frame):,} rows, {len(frame.columns)} columns", highlight=False)
    console.print(f"-> {', '.join(map(str, written))}", highlight=False, soft_wrap=True)


@app.command()
def score(
    data: Annotated[Path, typer.Argument(help="Respondent or session table.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the scores (.csv/.sav/.parquet).")],
    instrument: Annotated[list[str] | None, typer.Option(help="Instrument ids (default: all found).")] = None,
    keep_items: Annotated[bool, typer.Option(help="Keep the item columns beside the scores.")] = False,
) -> None:
    """Score every instrument whose items are in the table (reverse keys, prorating, bands)."""
    import lacrima as lc
    from lacrima.io import write_table

    try:
        frame = _read_any(data, None)
        result = lc.score_all(frame, instrument)
        scores = result.scores
        keep = [
            c
            for c in frame.columns
            if not keep_items and c in ("participant_id", "client_id", "site", "session")
        ]
        table = frame.join(scores) if keep_items else frame[keep].join(scores)
        write_table(table, out)
    except DataError as exc:
        _fail(exc)
        return
    console.print(f"scored: {', '.join(result.scored) or 'nothing'}")
    for iid, why in result.skipped.items():
        console.print(f"skipped {iid}: {why}", highlight=False)
    console.print(f"-> {out}")


register_consortium(app)
register_ops(app)


def main() -> None:
    """Entry point of the ``lacrima`` console script."""
    try:
        app()
    except DataError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


register_clinic(app)


def _django_setup(data: Path | None) -> None:
    import os

    if data is not None:
        os.environ["LACRIMA_DATA_DIR"] = str(data)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lacrima.web.settings")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:  # a refused setting: one line saying what to do, no traceback
        _fail(exc)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data: Annotated[
        Path | None, typer.Option(help="Data directory (SQLite, secret key); default ./lacrima-data.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (production server).")] = 3,
    threads: Annotated[int, typer.Option(help="Threads per worker (production server).")] = 4,
    access_log: Annotated[bool, typer.Option(help="Log every request to standard output.")] = True,
    dev: Annotated[bool, typer.Option(help="Use Django's development server instead of gunicorn.")] = False,
    worker: Annotated[
        bool, typer.Option(help="Also run a background worker (default in development; see lacrima worker).")
    ] = True,
) -> None:
    """Serve the web app: apply migrations, then become a production server (gunicorn)."""
    import os

    from django.core.management import call_command
    from django.db import connections

    _django_setup(data)
    from lacrima.web.catalogs import compile_catalogs

    compile_catalogs()  # a source checkout's interface translations (a built package carries them)
    from django.core.management.base import SystemCheckError

    try:
        call_command("migrate", interactive=False, verbosity=0, skip_checks=False)  # system checks first
    except SystemCheckError as exc:  # e.g. a clinic's guidance file with problems: each one named
        _fail(exc)
    console.print(f"lacrima web app on http://{host}:{port}/  (admin at /admin/; Ctrl-C stops it)")
    from django.conf import settings

    if settings.LACRIMA_DEMO:
        console.print(
            "Demo mode: the demo's seeded accounts sign in without a second factor (demo-credentials.txt "
            "in the data directory); every other account still needs its second factor."
        )

    if worker and not settings.PRODUCTION:
        from lacrima.cli._clinic import start_dev_worker

        start_dev_worker(data)  # ends by itself when this server process ends
    if dev:
        call_command("runserver", f"{host}:{port}", use_reloader=False)
        return
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "lacrima.web.wsgi:application",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        *(["--access-logfile", "-"] if access_log else []),
    ]
    # exec, not a child process: gunicorn takes this process's id, so SIGTERM or SIGINT sent to
    # `lacrima serve` (by systemd, docker or a shell) reaches gunicorn's arbiter and stops the server
    connections.close_all()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, cmd)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def manage(
    ctx: typer.Context,
    data: Annotated[Path | None, typer.Option(help="Data directory, as for serve.")] = None,
) -> None:
    """Run a Django management command, e.g. ``lacrima manage createsuperuser``."""
    from django.core.management import execute_from_command_line

    _django_setup(data)
    execute_from_command_line(["lacrima manage", *ctx.args])

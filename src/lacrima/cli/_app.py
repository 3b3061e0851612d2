"""Typer application. Commands parse arguments, call the library and print; no statistics here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lacrima.errors import DataError

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


def main() -> None:
    """Entry point of the ``lacrima`` console script."""
    try:
        app()
    except DataError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


def _out_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _django_setup(data: Path | None) -> None:
    import os

    if data is not None:
        os.environ["LACRIMA_DATA_DIR"] = str(data)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lacrima.web.settings")
    import django

    django.setup()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data: Annotated[
        Path | None, typer.Option(help="Data directory (SQLite, secret key); default ./lacrima-data.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (production server).")] = 2,
    dev: Annotated[bool, typer.Option(help="Use Django's development server instead of gunicorn.")] = False,
) -> None:
    """Serve the web app: apply migrations, then start a production server (gunicorn)."""
    import os
    import subprocess

    from django.core.management import call_command

    _django_setup(data)
    call_command("migrate", interactive=False, verbosity=0)
    console.print(f"lacrima web app on http://{host}:{port}/  (admin at /admin/; Ctrl-C stops it)")
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
        "--access-logfile",
        "-",
    ]
    subprocess.run(cmd, check=False, env=os.environ.copy())


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def manage(
    ctx: typer.Context,
    data: Annotated[Path | None, typer.Option(help="Data directory, as for serve.")] = None,
) -> None:
    """Run a Django management command, e.g. ``lacrima manage createsuperuser``."""
    from django.core.management import execute_from_command_line

    _django_setup(data)
    execute_from_command_line(["lacrima manage", *ctx.args])

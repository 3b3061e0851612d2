"""Large session archives in Parquet: read only what is needed, summarize in batches with bounded memory.

pyarrow's dataset API does the work: a scanner reads only the projected columns and skips row groups
whose statistics rule out the filter (predicate pushdown), so neither function ever holds unneeded
columns, and :func:`summarize_sessions` holds one batch plus per-group running sums at a time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from lacrima._deprecation import deprecated_alias
from lacrima._results import Result
from lacrima.analysis.inference import wilson_interval
from lacrima.errors import DataError, Problem

__all__ = ["SessionSummary", "read_sessions", "summarise_sessions", "summarize_sessions", "wilson_interval"]

# a pyarrow Expression, a list of (column, op, value) tuples (or a list of such lists), or None
Filters: TypeAlias = Any
# partial aggregates are folded into running totals after this many batches, so memory stays bounded by
# (number of groups) x FOLD_EVERY rows however long the archive is
FOLD_EVERY = 64


def _open(
    source: str | os.PathLike[str] | pd.DataFrame,
    what: str,
    needed: Sequence[str] = (),
    filesystem: Any = None,
) -> ds.Dataset:
    """A pyarrow dataset over a Parquet file, a directory of Parquet files (hive partitions allowed) or a
    DataFrame (only the ``needed`` columns are converted)."""
    if isinstance(source, pd.DataFrame):
        missing = [c for c in needed if c not in source.columns]
        if missing:
            raise DataError(
                f"{what}: the data have no column {', '.join(repr(c) for c in missing)}",
                [Problem("column not found", column=c) for c in missing],
            )
        try:
            return ds.dataset(pa.Table.from_pandas(source[list(needed)], preserve_index=False))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataError(
                f"{what}: a column has mixed value types and cannot be summarised: {exc}"
            ) from exc
    fs = filesystem if filesystem is not None else pafs.LocalFileSystem()
    path = str(Path(source)) if filesystem is None else str(source)
    try:
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.NotFound:
            raise DataError(f"{what}: {path!r} does not exist; give a Parquet file or a directory of them")
        if info.type == pafs.FileType.Directory:
            found = fs.get_file_info(pafs.FileSelector(path, recursive=True))
            files = sorted(
                f.path for f in found if f.type == pafs.FileType.File and f.path.endswith(".parquet")
            )
            if not files:
                raise DataError(f"{what}: the directory {path!r} has no .parquet files")
            options: dict[str, Any] = {
                "format": "parquet",
                "filesystem": fs,
                "partitioning": "hive",
                "partition_base_dir": path,
            }
            first = ds.dataset(files, **options)
            # files of different sites may differ in columns or in int/float types: unify, do not fail
            schemas = [first.schema] + [frag.physical_schema for frag in first.get_fragments()]
            schema = pa.unify_schemas(schemas, promote_options="permissive")
            return ds.dataset(files, schema=schema, **options)
        return ds.dataset(path, format="parquet", filesystem=fs)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise DataError(
            f"{what}: {path!r} could not be read as Parquet (or its files have conflicting column "
            f"types): {exc}"
        ) from exc


def _check_columns(dataset: ds.Dataset, columns: Sequence[str], what: str) -> None:
    names = dataset.schema.names
    missing = [c for c in dict.fromkeys(columns) if c not in names]
    if missing:
        raise DataError(
            f"{what}: the archive has no column {', '.join(repr(c) for c in missing)} "
            f"(available: {', '.join(names)})",
            [Problem("column not found", column=c) for c in missing],
        )


def _expression(filters: Filters, what: str) -> pc.Expression | None:
    if filters is None:
        return None
    if isinstance(filters, pc.Expression):
        return filters
    try:
        return pq.filters_to_expression(list(filters))
    except (TypeError, ValueError, pa.ArrowInvalid) as exc:
        raise DataError(
            f"{what}: filters must be a pyarrow expression or tuples like [('site', '=', 'us'), "
            f"('session', '<=', 10)]: {exc}"
        ) from exc


def _scanner(
    dataset: ds.Dataset, columns: Sequence[str], filters: Filters, what: str, batch_size: int = 131_072
) -> ds.Scanner:
    try:
        return dataset.scanner(
            columns=list(columns), filter=_expression(filters, what), batch_size=batch_size
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"{what}: the filter does not fit the archive's columns: {exc}") from exc


def read_sessions(
    path: str | os.PathLike[str],
    columns: Sequence[str] | None = None,
    filters: Filters = None,
    *,
    filesystem: Any = None,
) -> pd.DataFrame:
    """Read a session archive from Parquet, loading only the columns and rows asked for.

    Parameters
    ----------
    path
        A Parquet file or a directory of Parquet files (e.g. one per site; hive-style ``site=us/``
        sub-directories become a ``site`` column). Files may differ in columns; missing columns are
        filled with nulls and compatible types are unified (e.g. int64 with double).
    columns
        Columns to load (default all). Columns not named are never read from disk.
    filters
        Rows to keep: a pyarrow expression (``pc.field("site") == "us"``) or a list of
        ``(column, op, value)`` tuples, AND-ed (a list of such lists is OR-ed), ops ``=, ==, !=, <, <=,
        >, >=, in, not in``. Row groups whose statistics exclude the filter are skipped unread. A filter
        may use columns that are not loaded.
    filesystem
        A ``pyarrow.fs.FileSystem`` (e.g. ``S3FileSystem``) holding ``path``; default the local disk.

    Returns
    -------
    pandas.DataFrame
        The selected rows and columns, with a fresh RangeIndex.

    Notes
    -----
    Plain I/O with no R counterpart (in R: ``arrow::open_dataset(path) |> select() |> filter()``).
    """
    dataset = _open(path, "read_sessions", filesystem=filesystem)
    cols = list(dataset.schema.names) if columns is None else list(columns)
    if isinstance(columns, str):
        cols = [columns]
    _check_columns(dataset, cols, "read_sessions")
    try:
        table = _scanner(dataset, cols, filters, "read_sessions").to_table()
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"read_sessions: could not apply the filter: {exc}") from exc
    return table.to_pandas()


@dataclass(frozen=True, eq=False)
class SessionSummary(Result):
    """Per-group crying prevalence and means from :func:`summarize_sessions`.

    Attributes
    ----------
    rows
        One row per group (sorted; a group with a missing key is kept and sorted last): the ``by``
        columns, ``n_rows``, ``n`` (rows with ``cried`` recorded), ``n_cried``, ``n_missing``,
        ``prevalence`` (``n_cried / n``), ``ci_low``, ``ci_high`` (Wilson), then for each column ``m`` of
        ``means``: ``m_n``, ``m_mean``, ``m_sd`` (n - 1 denominator).
    by, cried, means, level
        The arguments.
    n_rows
        Rows read (after filters).
    n_batches
        Record batches scanned.
    """

    rows: pd.DataFrame
    by: tuple[str, ...]
    cried: str
    means: tuple[str, ...]
    level: float
    n_rows: int
    n_batches: int

    def table(self) -> pd.DataFrame:
        """The per-group table."""
        return self.rows.copy()


def summarize_sessions(
    source: str | os.PathLike[str] | pd.DataFrame,
    by: Sequence[str] = ("session",),
    *,
    cried: str = "cried",
    means: Sequence[str] = ("chk_alliance",),
    filters: Filters = None,
    level: float = 0.95,
    batch_size: int = 131_072,
    filesystem: Any = None,
) -> SessionSummary:
    """Crying prevalence (with Wilson CI) and means per session number over an archive, in batches.

    Parameters
    ----------
    source
        A Parquet file, a directory of Parquet files, or an in-memory session table.
    by
        Grouping columns (default the session number; e.g. ``("session", "attachment_style")``).
    cried
        Boolean or 0/1 column; missing values are counted in ``n_missing`` and left out of the prevalence.
    means
        Numeric columns whose mean and SD per group are wanted (default ``chk_alliance``, the scored
        check-in alliance; the simulator's true alliance is ``alliance``). ``()`` for none.
    filters
        As in :func:`read_sessions`.
    level
        Confidence level of the Wilson interval.
    batch_size
        Rows per batch. Memory use is about one batch of the needed columns plus running sums per group.
    filesystem
        As in :func:`read_sessions`.

    Returns
    -------
    SessionSummary
        ``.table()``: one row per group.

    Notes
    -----
    Means and SDs are combined across batches with the pairwise update of Chan, Golub & LeVeque (1983),
    so the result equals the one-pass pandas computation up to rounding error. The Wilson interval equals
    R's ``prop.test(n_cried, n, correct = FALSE)$conf.int``.
    """
    by_cols = [by] if isinstance(by, str) else list(by)
    mean_cols = [means] if isinstance(means, str) else list(means)
    if not by_cols:
        raise DataError("summarize_sessions: give at least one column in by (e.g. by=('session',))")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise DataError(f"summarize_sessions: batch_size is {batch_size!r}; give a positive whole number")
    if not 0.0 < level < 1.0:
        raise DataError(f"summarize_sessions: level is {level!r}; give a level between 0 and 1, e.g. 0.95")
    needed = list(dict.fromkeys([*by_cols, cried, *mean_cols]))
    dataset = _open(source, "summarize_sessions", needed, filesystem)
    _check_columns(dataset, needed, "summarize_sessions")
    _check_types(dataset.schema, cried, mean_cols)

    scanner = _scanner(dataset, needed, filters, "summarize_sessions", batch_size)
    partials: list[pd.DataFrame] = []
    running: pd.DataFrame | None = None
    n_rows = n_batches = 0
    for batch in _batches(scanner):
        n_batches += 1
        n_rows += batch.num_rows
        if batch.num_rows == 0:
            continue
        partials.append(_aggregate(batch, by_cols, cried, mean_cols))
        if len(partials) >= FOLD_EVERY:
            running = _fold([running, *partials] if running is not None else partials, by_cols, mean_cols)
            partials = []
    pieces = ([running] if running is not None else []) + partials
    if pieces:
        totals = _fold(pieces, by_cols, mean_cols)
    else:
        totals = pd.DataFrame(columns=[*by_cols, "n_rows", "_n", "_k", *_mean_parts(mean_cols)])
    return SessionSummary(
        rows=_finish(totals, by_cols, mean_cols, level),
        by=tuple(by_cols),
        cried=cried,
        means=tuple(mean_cols),
        level=level,
        n_rows=n_rows,
        n_batches=n_batches,
    )


def _check_types(schema: pa.Schema, cried: str, means: Sequence[str]) -> None:
    problems = []
    t = schema.field(cried).type
    if not (
        pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t)
    ):
        problems.append(Problem(f"type {t} is not boolean or 0/1", column=cried))
    for m in means:
        t = schema.field(m).type
        if not (
            pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t)
        ):
            problems.append(Problem(f"type {t} is not numeric", column=m))
    if problems:
        raise DataError("summarize_sessions: columns have the wrong type; convert them first", problems)


def _batches(scanner: ds.Scanner) -> Iterator[pa.RecordBatch]:
    try:
        yield from scanner.to_batches()
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"summarize_sessions: could not read the archive: {exc}") from exc


def _mean_parts(means: Sequence[str]) -> list[str]:
    return [f"{part}{i}" for i in range(len(means)) for part in ("_mn", "_mm", "_m2")]


def _aggregate(batch: pa.RecordBatch, by: list[str], cried: str, means: list[str]) -> pd.DataFrame:
    """Per-group count, crying count and (n, mean, sum of squared deviations) of one batch."""
    c = batch.column(cried).cast(pa.float64())
    outside = pc.and_(pc.not_equal(c, 0.0), pc.not_equal(c, 1.0))
    if pc.any(outside).as_py():
        bad = pc.filter(c, outside)
        raise DataError(
            f"summarize_sessions: column {cried!r} has the value {bad[0].as_py()!r}; it must be boolean or "
            "coded 1 (cried) / 0 (did not cry)"
        )
    arrays: dict[str, pa.Array] = {b: batch.column(b) for b in by}
    arrays["_c"] = c
    for i, m in enumerate(means):
        arrays[f"_x{i}"] = batch.column(m).cast(pa.float64())
    table = pa.table(arrays)
    aggs: list[Any] = [([], "count_all"), ("_c", "count"), ("_c", "sum")]
    for i in range(len(means)):
        aggs += [(f"_x{i}", "count"), (f"_x{i}", "mean"), (f"_x{i}", "variance", pc.VarianceOptions(ddof=0))]
    grouped = table.group_by(by, use_threads=False).aggregate(aggs).to_pandas()
    out = pd.DataFrame({b: grouped[b] for b in by})
    out["n_rows"] = grouped["count_all"].astype("int64")
    out["_n"] = grouped["_c_count"].astype("int64")
    out["_k"] = grouped["_c_sum"].fillna(0.0).astype("float64")
    for i in range(len(means)):
        n_i = grouped[f"_x{i}_count"].astype("float64")
        out[f"_mn{i}"] = n_i
        out[f"_mm{i}"] = grouped[f"_x{i}_mean"].astype("float64").fillna(0.0)
        out[f"_m2{i}"] = (grouped[f"_x{i}_variance"].astype("float64") * n_i).fillna(0.0)
    return out


def _fold(pieces: Sequence[pd.DataFrame], by: list[str], means: list[str]) -> pd.DataFrame:
    """Combine partial aggregates of the same groups (Chan et al. pairwise update for mean and M2)."""
    frame = pd.concat(pieces, ignore_index=True)
    codes = frame.groupby(by, dropna=False, sort=False).ngroup().to_numpy()
    n_groups = int(codes.max()) + 1
    _, first = np.unique(codes, return_index=True)
    out = frame.loc[first, by].reset_index(drop=True)

    def total(values: Any) -> np.ndarray:
        return np.bincount(codes, weights=np.asarray(values, dtype="float64"), minlength=n_groups)

    out["n_rows"] = total(frame["n_rows"]).round().astype("int64")
    out["_n"] = total(frame["_n"]).round().astype("int64")
    out["_k"] = total(frame["_k"])
    for i in range(len(means)):
        n_i = frame[f"_mn{i}"].to_numpy(dtype="float64")
        m_i = frame[f"_mm{i}"].to_numpy(dtype="float64")
        n_tot = total(n_i)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.where(n_tot > 0, total(n_i * m_i) / n_tot, 0.0)
        dev = m_i - mean[codes]
        out[f"_mn{i}"] = n_tot
        out[f"_mm{i}"] = mean
        out[f"_m2{i}"] = total(frame[f"_m2{i}"].to_numpy(dtype="float64") + n_i * dev * dev)
    return out


def _finish(totals: pd.DataFrame, by: list[str], means: list[str], level: float) -> pd.DataFrame:
    totals = totals.sort_values(by, na_position="last", kind="stable").reset_index(drop=True)
    out = totals[by].copy()
    n = totals["_n"].astype("int64")
    k = totals["_k"].astype("float64")
    out["n_rows"] = totals["n_rows"].astype("int64")
    out["n"] = n
    out["n_cried"] = k.round().astype("int64")  # a sum of 0/1 values; round() only removes float noise
    out["n_missing"] = out["n_rows"] - n
    out["prevalence"] = (k / n.where(n > 0)).astype("float64")
    low, high = wilson_interval(k.to_numpy(), n.to_numpy(), level)
    out["ci_low"], out["ci_high"] = low, high
    for i, m in enumerate(means):
        mn = totals[f"_mn{i}"].astype("float64")
        out[f"{m}_n"] = mn.astype("int64")
        out[f"{m}_mean"] = totals[f"_mm{i}"].where(mn > 0).astype("float64")
        out[f"{m}_sd"] = np.sqrt(totals[f"_m2{i}"] / (mn - 1).where(mn > 1)).astype("float64")
    return out


summarise_sessions = deprecated_alias(summarize_sessions, "summarise_sessions")

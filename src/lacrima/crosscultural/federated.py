"""Federated site summaries: sites share aggregates, a coordinator pools them exactly.

Many clinics cannot send raw clinical data to a consortium. Each site runs :func:`site_summary` locally
(n, means, covariance matrix, category counts with small cells suppressed, optional named correlations);
the coordinator runs :func:`pool_summaries`. Means, the total covariance matrix, correlations (also partial)
and OLS regressions computed from the pooled summary equal those of the concatenated raw data (to rounding
error), because they depend on the data only through n, the means and the cross-products. The per-site
correlations also feed a random-effects meta-analysis (:meth:`PooledSummary.meta`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lacrima import _dist
from lacrima._results import Result, to_jsonable
from lacrima.analysis.inference import correlation_inference
from lacrima.crosscultural._fed_schema import (
    IDENTIFIER_COLUMNS,
    MISSING_LEVEL,
    SCHEMA,
    VERSION,
    SiteSummaryCheck,
    check_site_summary,
    validate_site_summary,
)
from lacrima.crosscultural.meta import MetaResult, Method, Test, meta
from lacrima.errors import DataError, Problem

__all__ = [
    "PooledCorrelation",
    "PooledRegression",
    "PooledSummary",
    "SiteSummary",
    "SiteSummaryCheck",
    "pool_summaries",
    "read_site_summary",
    "site_summary",
    "validate_site_summary",
    "write_site_summary",
]


def _level_key(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return MISSING_LEVEL
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _suppress(cells: dict[str, int], min_cell: int) -> tuple[dict[str, int | None], list[str]]:
    """Suppress cells below min_cell, plus the smallest other cell when only one would be hidden (otherwise
    n minus the shown counts would reveal it)."""
    hidden = {level for level, c in cells.items() if c < min_cell}
    if len(hidden) == 1 and len(cells) > 1:
        shown = sorted((c, level) for level, c in cells.items() if level not in hidden)
        hidden.add(shown[0][1])
    out: dict[str, int | None] = {level: (None if level in hidden else c) for level, c in cells.items()}
    return out, sorted(hidden)


@dataclass(frozen=True, eq=False)
class SiteSummary(Result, Mapping[str, Any]):
    """One site's aggregates (schema ``lacrima.site-summary``, version 1): a frozen result that reads as the
    JSON object it is written as (``summary["n"]``, ``summary["cov"]``, ``dict(summary)``).

    :meth:`to_dict` gives that JSON object as plain, mutable Python (lists and dicts);
    :func:`write_site_summary` writes it and :func:`read_site_summary` reads it back as a ``SiteSummary``.
    """

    schema: str
    version: int
    site: str
    n: int
    n_excluded: int
    variables: tuple[str, ...]
    means: tuple[float, ...]
    cov: tuple[tuple[float, ...], ...]
    counts: Mapping[str, Mapping[str, int | None]]
    suppressed: tuple[Mapping[str, str], ...]
    min_cell: int
    effects: Mapping[str, Mapping[str, Any]]
    created: str
    lacrima_version: str

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> SiteSummary:
        """A validated summary from its JSON object (raises :class:`DataError` with every problem)."""
        check_site_summary(obj)
        return cls(**{f.name: obj[f.name] for f in fields(cls)})

    def __getitem__(self, key: str) -> Any:
        if key not in _SUMMARY_FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_SUMMARY_FIELDS)

    def __len__(self) -> int:
        return len(_SUMMARY_FIELDS)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the schema, as plain Python (a fresh copy that may be changed)."""
        out: dict[str, Any] = to_jsonable({name: getattr(self, name) for name in _SUMMARY_FIELDS})
        return out

    def table(self) -> pd.DataFrame:
        """One row per variable: ``variable, mean, sd, n``."""
        sd = [math.sqrt(self.cov[i][i]) for i in range(len(self.variables))]
        frame = {"variable": list(self.variables), "mean": list(self.means), "sd": sd, "n": self.n}
        return pd.DataFrame(frame)


_SUMMARY_FIELDS = tuple(f.name for f in fields(SiteSummary))


def site_summary(
    df: pd.DataFrame,
    variables: Sequence[str],
    *,
    site: str,
    categorical: Sequence[str] = (),
    min_cell: int = 5,
    pairs: Mapping[str, tuple[str, str]] | None = None,
    created: datetime | None = None,
) -> SiteSummary:
    """Summarise one site's data as aggregates only (schema ``lacrima.site-summary``, version 1).

    Parameters
    ----------
    df : DataFrame
        The site's respondent table (scored columns such as ``wai_total`` or ``cry_positive_feelings``).
    variables : sequence of str
        Numeric columns to summarise. The summary is over the rows complete on all of them (listwise);
        rows with a missing value are counted in ``n_excluded``.
    site : str
        Site label, e.g. ``"rome"``.
    categorical : sequence of str
        Columns whose level counts are shared (e.g. ``gender``), counted over the same complete rows;
        missing values count as level ``"(missing)"``.
    min_cell : int
        Counts below this are suppressed (set to null and listed in ``suppressed``); when only one cell of
        a variable would be hidden, the next smallest is hidden too so that it cannot be recovered from n.
    pairs : mapping, optional
        Named hypotheses ``{name: (x, y)}``; their correlations (over the same rows) are stored in
        ``effects`` for a meta-analysis.
    created : datetime, optional
        Time stamp to record (default: now, UTC).

    Returns
    -------
    SiteSummary
        Reads as the JSON object ``{"schema", "version", "site", "n", "n_excluded", "variables", "means",
        "cov" (n - 1 denominator), "counts", "suppressed", "min_cell", "effects", "created",
        "lacrima_version"}``. No rows and no identifiers.

    Raises
    ------
    DataError
        Unknown or non-numeric columns, identifier columns, fewer complete rows than variables + 1 or than
        ``min_cell``.
    """
    from lacrima import __version__

    if not isinstance(df, pd.DataFrame):
        raise DataError(f"site_summary needs a DataFrame; got {type(df).__name__}")
    variables = list(variables)
    categorical = list(categorical)
    if not isinstance(site, str) or not site.strip():
        raise DataError("site must be a non-empty label such as 'rome'")
    if not _is_whole(min_cell) or min_cell < 1:
        raise DataError(f"min_cell must be a whole number >= 1; got {min_cell!r}")
    if not variables:
        raise DataError("variables is empty; name the numeric columns to summarise")
    if len(set(variables)) != len(variables):
        raise DataError(f"variables lists a column twice: {variables}")
    problems: list[Problem] = []
    for col in [*variables, *categorical]:
        if col in IDENTIFIER_COLUMNS:
            problems.append(Problem("identifier columns must never leave the site", column=col))
        elif col not in df.columns:
            problems.append(Problem("no such column in the data", column=col))
    for col in variables:
        if col in df.columns and col not in IDENTIFIER_COLUMNS:
            s = df[col]
            if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
                problems.append(
                    Problem(f"column is not numeric (dtype {s.dtype}); score or recode it first", column=col)
                )
    pairs = dict(pairs or {})
    for name, pair in pairs.items():
        if len(pair) != 2 or any(v not in variables for v in pair):
            problems.append(Problem(f"pair {name!r} = {pair!r} must name two of the summarised variables"))
    if problems:
        raise DataError(f"cannot summarise site {site!r}", problems)

    values = df[variables].astype(float)
    complete = values.notna().all(axis=1).to_numpy()
    X = values.to_numpy()[complete]
    if not np.isfinite(X).all():
        raise DataError(f"site {site!r}: some values are infinite; fix them before summarising")
    n = int(complete.sum())
    p = len(variables)
    if n < p + 1:
        raise DataError(
            f"site {site!r} has {n} complete rows on {p} variables; a covariance matrix needs at "
            f"least {p + 1}"
        )
    if n < min_cell:
        raise DataError(
            f"site {site!r} has {n} complete rows, below min_cell = {min_cell}; sharing means of "
            "so few people could identify them"
        )
    means = X.mean(axis=0)
    centred = X - means
    cov = centred.T @ centred / (n - 1)
    cov = (cov + cov.T) / 2.0

    counts: dict[str, dict[str, int | None]] = {}
    suppressed: list[dict[str, str]] = []
    for col in categorical:
        keys = [_level_key(v) for v in df.loc[complete, col].tolist()]
        raw: dict[str, int] = {}
        for key in keys:
            raw[key] = raw.get(key, 0) + 1
        cells, hidden = _suppress(dict(sorted(raw.items())), min_cell)
        counts[col] = cells
        suppressed.extend({"variable": col, "level": level} for level in hidden)

    effects: dict[str, dict[str, Any]] = {}
    for name, (x, y) in pairs.items():
        i, j = variables.index(x), variables.index(y)
        r = float(cov[i, j] / math.sqrt(cov[i, i] * cov[j, j]))
        effects[name] = {"x": x, "y": y, "r": r, "n": n}

    stamp = created if created is not None else datetime.now(UTC)
    return SiteSummary(
        schema=SCHEMA,
        version=VERSION,
        site=site,
        n=n,
        n_excluded=len(df) - n,
        variables=tuple(variables),
        means=tuple(float(m) for m in means),
        cov=tuple(tuple(float(c) for c in row) for row in cov),
        counts=counts,
        suppressed=tuple(suppressed),
        min_cell=int(min_cell),
        effects=effects,
        created=stamp.isoformat(timespec="seconds"),
        lacrima_version=__version__,
    )


def _is_whole(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def write_site_summary(summary: Mapping[str, Any], path: str | Path) -> Path:
    """Validate a site summary and write it as JSON (UTF-8). Returns the path written.

    Floats are written with Python's shortest round-trip representation, so reading the file back gives
    the same numbers bit for bit.
    """
    plain = summary.to_dict() if isinstance(summary, SiteSummary) else summary
    check_site_summary(plain)
    target = Path(path)
    text = json.dumps(plain, indent=2, allow_nan=False, ensure_ascii=False)
    target.write_text(text + "\n", encoding="utf-8")
    return target


def read_site_summary(path: str | Path) -> SiteSummary:
    """Read a site summary JSON file and validate it (raises :class:`DataError` with the reasons)."""
    source = Path(path)
    try:
        obj = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"no site summary at {source}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{source} is not valid JSON: {exc}") from None
    try:
        return SiteSummary.from_dict(obj)
    except DataError as exc:
        raise DataError(f"{source}: {exc.summary}", exc.problems) from None


@dataclass(frozen=True, eq=False)
class PooledCorrelation(Result):
    """A (partial) correlation from pooled summaries: ``r``, ``n``, ``df``, ``t``, ``p``, ``ci`` (Fisher z
    with SE 1/sqrt(n - 3 - number of covariates))."""

    x: str
    y: str
    covar: tuple[str, ...]
    r: float
    n: int
    df: int
    t: float
    p: float
    ci: tuple[float, float]
    level: float


@dataclass(frozen=True, eq=False)
class PooledRegression(Result):
    """An OLS regression from pooled summaries; ``coefficients`` has term, estimate, se, t, p, ci_low,
    ci_high (``Intercept`` first)."""

    y: str
    xs: tuple[str, ...]
    n: int
    df_resid: int
    coefficients: pd.DataFrame
    r2: float
    adj_r2: float
    sigma: float
    f: float
    f_p: float
    level: float

    def table(self) -> pd.DataFrame:
        """The coefficient table."""
        return self.coefficients.copy()


@dataclass(frozen=True, eq=False)
class PooledSummary(Result):
    """Site summaries pooled exactly.

    ``means`` and ``cov`` (total covariance, n - 1 denominator) equal those of the concatenated raw data;
    ``within_cov`` is the pooled within-site covariance (denominator n - number of sites). ``counts`` sums
    the sites' level counts; a pooled cell is None when any site suppressed it. ``site_n``, ``site_means``
    and ``site_cov`` keep each site's own aggregates.
    """

    sites: tuple[str, ...]
    n: int
    n_excluded: int
    variables: tuple[str, ...]
    means: pd.Series
    cov: pd.DataFrame
    within_cov: pd.DataFrame
    counts: dict[str, dict[str, int | None]]
    site_n: pd.Series
    site_means: pd.DataFrame
    site_cov: tuple[pd.DataFrame, ...]
    site_effects: tuple[dict[str, Any], ...]

    def table(self) -> pd.DataFrame:
        """One row per variable: variable, mean, sd, n."""
        return pd.DataFrame(
            {
                "variable": list(self.variables),
                "mean": self.means.to_numpy(),
                "sd": np.sqrt(np.diag(self.cov.to_numpy())),
                "n": self.n,
            }
        )

    def _check(self, names: Sequence[str]) -> None:
        unknown = [v for v in names if v not in self.variables]
        if unknown:
            raise DataError(
                f"variables {unknown} are not in the pooled summaries; available: {list(self.variables)}"
            )
        if len(set(names)) != len(names):
            raise DataError(f"a variable is named twice in {list(names)}")

    def correlation(
        self, x: str, y: str, covar: Sequence[str] | str | None = None, level: float = 0.95
    ) -> PooledCorrelation:
        """Pearson (or, with ``covar``, partial) correlation of the pooled data.

        Notes
        -----
        Equals ``cor(x, y)`` (or the correlation of the residuals of x and y on ``covar``) of the
        concatenated raw data; the p value is that of the t test with n - 2 - len(covar) df, the same as
        the t test of x in ``lm(y ~ x + covar)``.
        """
        cov_names = [covar] if isinstance(covar, str) else list(covar or [])
        names = [x, y, *cov_names]
        self._check(names)
        S = self.cov.loc[names, names].to_numpy()
        if cov_names:
            try:
                prec = np.linalg.inv(S)
            except np.linalg.LinAlgError:
                raise DataError(
                    f"the covariance matrix of {names} is singular; drop a redundant covariate"
                ) from None
            r = float(-prec[0, 1] / math.sqrt(prec[0, 0] * prec[1, 1]))
        else:
            r = float(S[0, 1] / math.sqrt(S[0, 0] * S[1, 1]))
        kc = len(cov_names)
        df = self.n - 2 - kc
        if df < 1:
            raise DataError(f"n = {self.n} is too small for a correlation with {kc} covariates")
        t, p, ci = correlation_inference(r, self.n, kc, level)
        if abs(r) == 1:
            ci = (math.nan, math.nan)
        return PooledCorrelation(
            x=x, y=y, covar=tuple(cov_names), r=r, n=self.n, df=df, t=t, p=p, ci=ci, level=level
        )

    def regression(self, y: str, xs: Sequence[str] | str, level: float = 0.95) -> PooledRegression:
        """OLS regression of ``y`` on ``xs`` from the pooled means and cross-products.

        Notes
        -----
        Coefficients, standard errors, t, p, R^2 and F equal ``lm(y ~ xs)`` (statsmodels ``OLS``) on the
        concatenated raw data.
        """
        predictors = [xs] if isinstance(xs, str) else list(xs)
        if not predictors:
            raise DataError("regression needs at least one predictor in xs")
        self._check([y, *predictors])
        q = len(predictors)
        df_resid = self.n - q - 1
        if df_resid < 1:
            raise DataError(f"n = {self.n} is too small for a regression with {q} predictors")
        S = self.cov.to_numpy()
        ix = [self.variables.index(v) for v in predictors]
        iy = self.variables.index(y)
        Sxx = S[np.ix_(ix, ix)]
        sxy = S[ix, iy]
        syy = float(S[iy, iy])
        if np.linalg.matrix_rank(Sxx) < q:
            raise DataError(f"the predictors {predictors} are collinear in the pooled data; drop one")
        b = np.linalg.solve(Sxx, sxy)
        m = self.means.to_numpy()
        xbar = m[ix]
        a = float(m[iy] - b @ xbar)
        ss_tot = (self.n - 1) * syy
        ss_res = max(0.0, (self.n - 1) * (syy - float(sxy @ b)))
        sigma2 = ss_res / df_resid
        cov_b = sigma2 * np.linalg.inv(Sxx) / (self.n - 1)
        var_a = sigma2 / self.n + float(xbar @ cov_b @ xbar)
        est = np.concatenate([[a], b])
        se = np.sqrt(np.concatenate([[var_a], np.diag(cov_b)]))
        t = est / se
        p = 2.0 * _dist.t_sf(np.abs(t), df_resid)
        crit = float(_dist.t_ppf(0.5 + level / 2.0, df_resid))
        r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else math.nan
        adj = 1.0 - (1.0 - r2) * (self.n - 1) / df_resid
        f = (r2 / q) / ((1.0 - r2) / df_resid) if r2 < 1 else math.inf
        coef = pd.DataFrame(
            {
                "term": ["Intercept", *predictors],
                "estimate": est,
                "se": se,
                "t": t,
                "p": p,
                "ci_low": est - crit * se,
                "ci_high": est + crit * se,
            }
        )
        return PooledRegression(
            y=y,
            xs=tuple(predictors),
            n=self.n,
            df_resid=df_resid,
            coefficients=coef,
            r2=r2,
            adj_r2=adj,
            sigma=math.sqrt(sigma2),
            f=f,
            f_p=float(_dist.f_sf(f, q, df_resid)),
            level=level,
        )

    def site_correlations(self, x: str, y: str) -> pd.DataFrame:
        """Each site's correlation of x and y (columns site, r, n), from its own covariance matrix."""
        self._check([x, y])
        rows = []
        for site, C in zip(self.sites, self.site_cov, strict=True):
            M = C.to_numpy()
            i, j = self.variables.index(x), self.variables.index(y)
            denom = math.sqrt(float(M[i, i] * M[j, j]))
            r = float(M[i, j]) / denom if denom > 0 else math.nan
            rows.append({"site": site, "r": r, "n": int(self.site_n[site])})
        return pd.DataFrame(rows)

    def meta(
        self, x: str, y: str, method: Method = "REML", test: Test = "z", level: float = 0.95
    ) -> MetaResult:
        """Random-effects meta-analysis of the per-site correlations of x and y (see :func:`meta`)."""
        sc = self.site_correlations(x, y)
        bad = sc[~sc["r"].between(-1.0, 1.0, inclusive="neither")]
        if len(bad):
            raise DataError(
                f"sites {bad['site'].tolist()} have no usable correlation of {x} and {y} "
                "(a variable is constant there)"
            )
        return meta(
            sc["r"], n=sc["n"], measure="r", method=method, test=test, level=level, labels=sc["site"].tolist()
        )

    def effect_meta(
        self, name: str, method: Method = "REML", test: Test = "z", level: float = 0.95
    ) -> MetaResult:
        """Meta-analysis of the named effect (``pairs`` in :func:`site_summary`) over the sites holding it."""
        rows = [
            (site, eff[name]) for site, eff in zip(self.sites, self.site_effects, strict=True) if name in eff
        ]
        if not rows:
            raise DataError(f"no site summary holds an effect named {name!r}")
        return meta(
            [e["r"] for _, e in rows],
            n=[e["n"] for _, e in rows],
            measure="r",
            method=method,
            test=test,
            level=level,
            labels=[s for s, _ in rows],
        )


def pool_summaries(summaries: Iterable[Mapping[str, Any]]) -> PooledSummary:
    """Pool site summaries exactly (grand n, means, total and within-site covariance, counts).

    Parameters
    ----------
    summaries : iterable of dict
        Site summaries from :func:`site_summary` or :func:`read_site_summary`, all over the same variables.

    Returns
    -------
    PooledSummary

    Raises
    ------
    DataError
        A summary is invalid (every problem of every site is listed), two summaries share a site label, or
        the sites summarised different variables.

    Notes
    -----
    With site sizes n_i, means m_i and covariances C_i, N = sum n_i, m = sum n_i m_i / N and the total
    covariance is [sum (n_i - 1) C_i + sum n_i (m_i - m)(m_i - m)'] / (N - 1): exactly the covariance of the
    concatenated rows.
    """
    items = list(summaries)
    if not items:
        raise DataError("no site summaries to pool")
    problems: list[Problem] = []
    for i, s in enumerate(items):
        try:
            check_site_summary(s)
        except DataError as exc:
            label = s.get("site") if isinstance(s, Mapping) else None
            prefix = f"site {label!r}" if isinstance(label, str) else f"summary {i + 1}"
            problems.append(Problem(f"{prefix}: {exc.summary}"))
            problems.extend(Problem(f"{prefix}: {p}") for p in exc.problems)
    if problems:
        raise DataError("some site summaries are not valid", problems)
    sites = [str(s["site"]) for s in items]
    dupes = sorted({x for x in sites if sites.count(x) > 1})
    if dupes:
        raise DataError(f"site labels {dupes} appear more than once; each site sends one summary")
    variables = list(items[0]["variables"])
    for s in items[1:]:
        if set(s["variables"]) != set(variables):
            only_here = sorted(set(s["variables"]) - set(variables))
            missing = sorted(set(variables) - set(s["variables"]))
            raise DataError(
                f"site {s['site']!r} summarised different variables from site {sites[0]!r} (extra: "
                f"{only_here}, missing: {missing}); every site must summarise the same variables"
            )
    p = len(variables)
    ns = np.array([int(s["n"]) for s in items], dtype=float)
    means = np.empty((len(items), p))
    covs = []
    for i, s in enumerate(items):
        order = [list(s["variables"]).index(v) for v in variables]
        means[i] = np.asarray(s["means"], dtype=float)[order]
        covs.append(np.asarray(s["cov"], dtype=float)[np.ix_(order, order)])
    N = float(ns.sum())
    grand = (ns[:, None] * means).sum(axis=0) / N
    within_ss = sum((n - 1.0) * C for n, C in zip(ns, covs, strict=True))
    dev = means - grand
    between_ss = (ns[:, None] * dev).T @ dev
    total = (within_ss + between_ss) / (N - 1.0)
    total = (total + total.T) / 2.0
    within = within_ss / (N - len(items)) if len(items) < N else np.full((p, p), math.nan)

    counts: dict[str, dict[str, int | None]] = {}
    for s in items:
        for var, cells in s["counts"].items():
            pooled = counts.setdefault(var, {})
            for level, c in cells.items():
                if level in pooled and pooled[level] is None:
                    continue
                pooled[level] = None if c is None else int(pooled.get(level) or 0) + int(c)
    for var, pooled in counts.items():
        for s in items:
            if var not in s["counts"]:
                counts[var] = {level: None for level in pooled}

    return PooledSummary(
        sites=tuple(sites),
        n=int(N),
        n_excluded=int(sum(int(s["n_excluded"]) for s in items)),
        variables=tuple(variables),
        means=pd.Series(grand, index=variables),
        cov=pd.DataFrame(total, index=variables, columns=variables),
        within_cov=pd.DataFrame(within, index=variables, columns=variables),
        counts={var: dict(sorted(cells.items())) for var, cells in counts.items()},
        site_n=pd.Series(ns.astype(int), index=sites),
        site_means=pd.DataFrame(means, index=sites, columns=variables),
        site_cov=tuple(pd.DataFrame(C, index=variables, columns=variables) for C in covs),
        site_effects=tuple(dict(s["effects"]) for s in items),
    )

"""The default longitudinal plan: crying across sessions, crying and the session alliance, attachment.

:func:`analyze_sessions` checks a session table, scores the check-ins, derives the model variables (time
from the first session, crying in the previous session, its within/between split, centred attachment
scores) and fits each planned mixed model. A model that cannot run (a column missing, too few clients, a
table with errors) is recorded with its reason; nothing here stops the other models.

A plan is data: a sequence of mappings (or a YAML file holding such a list) with ``id``, ``title``,
``formula``, ``family``, ``terms`` (term of interest -> expected sign ``"+"``, ``"-"`` or ``"any"``) and
optional ``fallbacks`` (simpler formulas tried in turn when a fit is singular, does not converge or fails,
or when the planned formula names a column the table lacks) and ``description``. ``{alliance}`` in a
formula stands for the alliance column used (``chk_alliance`` when the check-ins are scored, else
``alliance``).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lacrima._results import Result
from lacrima.errors import DataError
from lacrima.longitudinal._formula import parse_formula
from lacrima.longitudinal._mixed import MixedResult, mixed
from lacrima.longitudinal._sessions_check import SessionCheck, validate_sessions
from lacrima.longitudinal.sessions import code_time, decompose, lag

__all__ = [
    "DEFAULT_LONGITUDINAL_PLAN",
    "LongitudinalHypothesis",
    "LongitudinalModel",
    "LongitudinalResults",
    "analyze_sessions",
    "load_longitudinal_plan",
]

SESSION_SCALE = 10.0
"""``session_c = (session - first session) / SESSION_SCALE``: time in tens of sessions, 0 at the first."""

SIGNS = ("+", "-", "any")

_RE_CLIENT = "(1 + session_c | client_id)"
DEFAULT_LONGITUDINAL_PLAN: tuple[dict[str, Any], ...] = (
    {
        "id": "L1",
        "title": "Crying rate over sessions",
        "formula": "cried ~ session_c + (1 | client_id) + (1 | therapist_id)",
        "fallbacks": ["cried ~ session_c + (1 | client_id)"],
        "family": "binomial",
        "terms": {"session_c": "any"},
        "description": "Whether clients cry more or less often as therapy goes on.",
    },
    {
        "id": "L2",
        "title": "Crying in the previous session and the session alliance",
        "formula": f"{{alliance}} ~ cried_lag1 + session_c + {_RE_CLIENT} + (1 | therapist_id)",
        "fallbacks": [
            "{alliance} ~ cried_lag1 + session_c + (1 + session_c || client_id) + (1 | therapist_id)",
            "{alliance} ~ cried_lag1 + session_c + (1 | client_id) + (1 | therapist_id)",
            "{alliance} ~ cried_lag1 + session_c + (1 | client_id)",
        ],
        "family": "gaussian",
        "terms": {"cried_lag1": "+", "session_c": "+"},
        "description": "Alliance at session t on crying at session t-1, with growth over sessions.",
    },
    {
        "id": "L3",
        "title": "Previous-session crying within and between clients",
        "formula": (
            f"{{alliance}} ~ cried_lag1_cwc + cried_lag1_pmc + session_c + {_RE_CLIENT} + (1 | therapist_id)"
        ),
        "fallbacks": [
            "{alliance} ~ cried_lag1_cwc + cried_lag1_pmc + session_c + (1 + session_c || client_id)"
            " + (1 | therapist_id)",
            "{alliance} ~ cried_lag1_cwc + cried_lag1_pmc + session_c + (1 | client_id) + (1 | therapist_id)",
            "{alliance} ~ cried_lag1_cwc + cried_lag1_pmc + session_c + (1 | client_id)",
        ],
        "family": "gaussian",
        "terms": {"cried_lag1_cwc": "+", "cried_lag1_pmc": "any"},
        "description": (
            "Crying in the previous session split into the within-client part (compared with the client's "
            "own rate) and the between-client part (clients who cry more often)."
        ),
    },
    {
        "id": "L4",
        "title": "Attachment and alliance growth",
        "formula": (
            "{alliance} ~ cried_lag1 + ecr_anxiety_c * session_c + ecr_avoidance_c * session_c"
            f" + {_RE_CLIENT} + (1 | therapist_id)"
        ),
        "fallbacks": [
            "{alliance} ~ cried_lag1 + ecr_anxiety_c * session_c + ecr_avoidance_c * session_c"
            " + (1 + session_c || client_id) + (1 | therapist_id)",
            "{alliance} ~ cried_lag1 + ecr_anxiety_c * session_c + ecr_avoidance_c * session_c"
            " + (1 | client_id) + (1 | therapist_id)",
        ],
        "family": "gaussian",
        "terms": {
            "ecr_anxiety_c:session_c": "any",
            "session_c:ecr_avoidance_c": "any",
            "ecr_avoidance_c": "-",
        },
        "description": "Whether attachment anxiety and avoidance change how the alliance grows over time.",
    },
    {
        "id": "L5",
        "title": "Crying propensity by attachment and gender",
        "formula": (
            "cried ~ ecr_anxiety_c + ecr_avoidance_c + gender + session_c + (1 | client_id)"
            " + (1 | therapist_id)"
        ),
        "fallbacks": [
            "cried ~ ecr_anxiety_c + ecr_avoidance_c + gender + session_c + (1 | client_id)",
            "cried ~ ecr_anxiety_c + ecr_avoidance_c + session_c + (1 | client_id) + (1 | therapist_id)",
        ],
        "family": "binomial",
        "terms": {"ecr_anxiety_c": "+", "ecr_avoidance_c": "-", "genderwoman": "+"},
        "description": "Anxious clients are expected to cry more, avoidant clients less, women more.",
    },
    {
        "id": "L6",
        "title": "Crying by attachment style",
        "formula": "cried ~ attachment_style + session_c + (1 | client_id) + (1 | therapist_id)",
        "fallbacks": ["cried ~ attachment_style + session_c + (1 | client_id)"],
        "family": "binomial",
        "terms": {"attachment_styleanxious_preoccupied": "+", "attachment_styleavoidant_dismissing": "-"},
        "description": "Odds of crying of each insecure attachment style against secure clients.",
    },
)

# derived columns and what they are made from
_DERIVED: dict[str, tuple[str, ...]] = {
    "session_c": ("session",),
    "cried_lag1": ("cried", "session", "client_id"),
    "cried_lag1_cwc": ("cried", "session", "client_id"),
    "cried_lag1_pmc": ("cried", "session", "client_id"),
    "ecr_anxiety_c": ("ecr_anxiety", "client_id"),
    "ecr_avoidance_c": ("ecr_avoidance", "client_id"),
}
_ORDER = {
    "gender": ("man", "woman", "non_binary", "self_described", "prefer_not"),
    "attachment_style": ("secure", "anxious_preoccupied", "avoidant_dismissing", "fearful"),
}


@dataclass(frozen=True)
class LongitudinalHypothesis:
    """One planned model: id, title, lme4 formula, family, terms of interest with expected signs."""

    id: str
    title: str
    formula: str
    family: str
    terms: Mapping[str, str]
    fallbacks: tuple[str, ...] = ()
    description: str = ""

    @staticmethod
    def from_mapping(spec: Mapping[str, Any]) -> LongitudinalHypothesis:
        """Build from a plan entry; a clear DataError says what is missing or wrong."""
        if not isinstance(spec, Mapping):
            raise DataError(f"a longitudinal plan entry is a {type(spec).__name__}; give a mapping")
        missing = [k for k in ("id", "title", "formula", "family", "terms") if k not in spec]
        ident = spec.get("id", "?")
        if missing:
            raise DataError(f"longitudinal plan entry {ident!r} lacks {missing}")
        if spec["family"] not in ("gaussian", "binomial"):
            raise DataError(
                f"plan entry {ident!r}: family is {spec['family']!r}; use 'gaussian' or 'binomial'"
            )
        terms = spec["terms"]
        if not isinstance(terms, Mapping) or not terms:
            raise DataError(
                f"plan entry {ident!r}: terms must map each term of interest to '+', '-' or 'any'"
            )
        bad = {k: v for k, v in terms.items() if v not in SIGNS}
        if bad:
            raise DataError(f"plan entry {ident!r}: expected signs {bad} are not one of {SIGNS}")
        fallbacks = spec.get("fallbacks") or ()
        if isinstance(fallbacks, str):
            fallbacks = (fallbacks,)
        return LongitudinalHypothesis(
            id=str(spec["id"]),
            title=str(spec["title"]),
            formula=str(spec["formula"]),
            family=str(spec["family"]),
            terms={str(k): str(v) for k, v in terms.items()},
            fallbacks=tuple(str(f) for f in fallbacks),
            description=str(spec.get("description", "")),
        )


def load_longitudinal_plan(
    plan: Sequence[Mapping[str, Any] | LongitudinalHypothesis] | str | Path | None = None,
) -> tuple[LongitudinalHypothesis, ...]:
    """The default plan (``None``), a sequence of entries, or a YAML file holding a list of entries."""
    if plan is None:
        plan = DEFAULT_LONGITUDINAL_PLAN
    elif isinstance(plan, (str, Path)):
        import yaml

        path = Path(plan)
        if not path.is_file():
            raise DataError(f"longitudinal plan file {str(path)!r} does not exist")
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(loaded, Mapping):
            loaded = loaded.get("hypotheses")
        if not isinstance(loaded, list):
            raise DataError(f"{path}: give a list of plan entries (or a mapping with a 'hypotheses' list)")
        plan = loaded
    out = tuple(
        h if isinstance(h, LongitudinalHypothesis) else LongitudinalHypothesis.from_mapping(h) for h in plan
    )
    ids = [h.id for h in out]
    if len(set(ids)) != len(ids):
        raise DataError(f"longitudinal plan ids must be unique; got {ids}")
    return out


@dataclass(frozen=True, eq=False)
class LongitudinalModel(Result):
    """One planned model as run (or not run).

    Attributes
    ----------
    id, title, family, description
        From the plan.
    formula
        The formula fitted (a fallback when the planned one was singular, did not converge or failed).
    planned_formula
        The formula in the plan, with ``{alliance}`` filled in.
    terms
        Terms of interest and their expected signs.
    ran
        False when the model could not be fitted; ``reason`` says why.
    fixed, varcomp
        As :class:`~lacrima.longitudinal.MixedResult` (empty when not run).
    n_sessions, n_clients, n_therapists
        Sessions, clients and therapists in the fit (``n_therapists`` None without a therapist term).
    warnings
        Statistical warnings of the fit kept (singular fit, no convergence).
    notes
        What was simplified and why (e.g. a fallback formula).
    """

    id: str
    title: str
    family: str
    formula: str
    planned_formula: str
    terms: Mapping[str, str]
    ran: bool
    reason: str
    fixed: pd.DataFrame
    varcomp: pd.DataFrame
    n_sessions: int
    n_clients: int
    n_therapists: int | None
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    description: str = ""
    fit: MixedResult | None = field(default=None, repr=False)

    def findings(self) -> pd.DataFrame:
        """Per term of interest: expected sign, estimate, se, ci, p and whether the sign is as expected."""
        rows = []
        for term, sign in self.terms.items():
            row: dict[str, Any] = {"id": self.id, "term": term, "expected": sign}
            if self.ran and term in self.fixed.index:
                row |= {k: _num(self.fixed, term, k) for k in ("estimate", "se", "ci_low", "ci_high", "p")}
                est = row["estimate"]
                row["as_expected"] = None if sign == "any" else (est > 0) == (sign == "+")
            else:
                row |= dict.fromkeys(("estimate", "se", "ci_low", "ci_high", "p"), np.nan)
                row["as_expected"] = None
            rows.append(row)
        return pd.DataFrame(rows)

    def table(self) -> pd.DataFrame:
        """Fixed effects with a ``term`` column and ``n`` (sessions); empty when the model did not run."""
        out = self.fixed.reset_index(names="term")
        out["n"] = self.n_sessions
        return out


@dataclass(frozen=True, eq=False)
class LongitudinalResults(Result):
    """Results of :func:`analyze_sessions`.

    Attributes
    ----------
    models
        One :class:`LongitudinalModel` per plan entry, in plan order.
    check
        Findings of :func:`~lacrima.longitudinal.validate_sessions` (None when the id or session column
        is missing, so that nothing could be checked).
    data
        The session table as modelled: the input plus scored check-ins and derived columns.
    alliance_column
        The alliance column used (``chk_alliance`` or ``alliance``), None when there is neither.
    n_sessions, n_clients, n_therapists
        Size of the session table.
    crying_rate
        Share of sessions with crying (sessions with ``cried`` recorded); NaN without ``cried``.
    alliance_curve
        Population-level alliance by session (columns ``session, alliance, model``) from the model of the
        alliance on growth and crying at t-1 alone (L2 in the default plan; found by its terms, not its
        id); empty, with a note saying why, when no such model ran.
    crying_by_style
        Predicted probability of crying by attachment style over sessions with 95 % intervals
        (``session, group, p, ci_low, ci_high``), empty without attachment styles.
    example_client
        A client for the one-client figure (most crying sessions among clients with many sessions).
    notes
        Scoring, derivation and exclusion notes.
    seed
        Seed of the random choices of the report (which clients the spaghetti plot draws).
    """

    models: tuple[LongitudinalModel, ...]
    check: SessionCheck | None
    data: pd.DataFrame = field(repr=False)
    alliance_column: str | None
    n_sessions: int
    n_clients: int
    n_therapists: int | None
    crying_rate: float
    alliance_curve: pd.DataFrame = field(repr=False)
    crying_by_style: pd.DataFrame = field(repr=False)
    example_client: Any
    notes: tuple[str, ...]
    seed: int

    def __getitem__(self, key: str) -> LongitudinalModel:
        for m in self.models:
            if m.id == key:
                return m
        raise KeyError(f"no model {key!r}; the plan has {[m.id for m in self.models]}")

    def table(self) -> pd.DataFrame:
        """One row per term of interest of every model (not-run models with their reason)."""
        frames = []
        for m in self.models:
            f = m.findings()
            f.insert(1, "title", m.title)
            f["ran"] = m.ran
            f["reason"] = m.reason
            f["n"] = m.n_sessions
            f["n_clients"] = m.n_clients
            frames.append(f)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def to_dict(self) -> dict[str, Any]:
        from lacrima._results import to_jsonable

        out: dict[str, Any] = {"type": type(self).__name__}
        for name in self.__dataclass_fields__:
            if name == "data":
                continue
            value = getattr(self, name)
            if name == "models":
                out[name] = [_model_dict(m) for m in value]
            else:
                out[name] = to_jsonable(value)
        return out


def _model_dict(m: LongitudinalModel) -> dict[str, Any]:
    from lacrima._results import to_jsonable

    return {k: to_jsonable(getattr(m, k)) for k in m.__dataclass_fields__ if k != "fit"}


def analyze_sessions(
    sessions: pd.DataFrame,
    plan: Sequence[Mapping[str, Any] | LongitudinalHypothesis] | str | Path | None = None,
    *,
    seed: int = 2024,
    min_clients: int = 20,
    min_group_clients: int = 10,
) -> LongitudinalResults:
    """Run the longitudinal plan (default :data:`DEFAULT_LONGITUDINAL_PLAN`) on a session table.

    Parameters
    ----------
    sessions
        Session table (``client_id, therapist_id, site, session, date, cried``, check-in items, and
        optionally client-level ``ecr_anxiety``, ``ecr_avoidance``, ``attachment_style``, ``gender``).
    plan
        None (the default plan), a sequence of plan entries or a YAML file (see the module docstring).
    seed
        Seed of the report's random choices.
    min_clients
        A model with fewer clients in its complete rows is not run.
    min_group_clients
        Gender or attachment-style categories with fewer clients are left out of the models using them
        (counted in the notes): a category of a handful of clients gives no usable estimate.

    Returns
    -------
    LongitudinalResults
        Every model's fixed effects, variance components, sizes, warnings, or the reason it did not run.

    Notes
    -----
    Fits are :func:`lacrima.mixed` (checked against ``lme4::lmer``/``lmerTest`` and ``lme4::glmer``), e.g.
    L2 in R: ``lmer(chk_alliance ~ cried_lag1 + session_c + (1 + session_c | client_id) +
    (1 | therapist_id), data = d)``. Time is ``session_c = (session - first session) / 10``; the lag is
    crying at session t-1 exactly (missing after a skipped session); ECR scores are centred at their mean
    over clients. Warnings of the fits are kept in each model's ``warnings``, not raised.
    """
    if not isinstance(sessions, pd.DataFrame):
        raise DataError(
            f"analyze_sessions needs a session table (DataFrame), not a {type(sessions).__name__}"
        )
    if len(sessions) == 0:
        raise DataError("the session table has no rows to analyse")
    hypotheses = load_longitudinal_plan(plan)
    notes: list[str] = []
    blocked = ""
    check: SessionCheck | None = None
    absent = [c for c in ("client_id", "session") if c not in sessions.columns]
    if absent:
        blocked = (
            f"the session table has no {' or '.join(absent)} column; name the columns as the contract says"
        )
    else:
        therapist = "therapist_id" if "therapist_id" in sessions.columns else None
        check = validate_sessions(sessions, therapist=therapist)
        if not check.ok:
            kinds = ", ".join(f"{k} ({n})" for k, n in check.errors["kind"].value_counts(sort=False).items())
            blocked = f"the session table has {check.n_errors} errors ({kinds}); fix them (see the findings)"
    data = sessions.copy()
    alliance_col: str | None = None
    if not blocked:
        data, alliance_col = _prepare(data, notes, min_group_clients)
    models = tuple(_run(h, data, alliance_col, blocked, min_clients) for h in hypotheses)
    n_ther = int(data["therapist_id"].nunique()) if "therapist_id" in data.columns else None
    rate = float(pd.to_numeric(data["cried"], errors="coerce").mean()) if "cried" in data.columns else np.nan
    curve = _alliance_curve(models, data, notes) if not blocked else _alliance_curve((), data, [])
    return LongitudinalResults(
        models=models,
        check=check,
        data=data,
        alliance_column=alliance_col,
        n_sessions=len(data),
        n_clients=int(data["client_id"].nunique()) if "client_id" in data.columns else 0,
        n_therapists=n_ther,
        crying_rate=rate,
        alliance_curve=curve,
        crying_by_style=_crying_by_style(data, notes) if not blocked else _empty_style(),
        example_client=_example_client(data) if not blocked else None,
        notes=tuple(notes),
        seed=seed,
    )


def _prepare(data: pd.DataFrame, notes: list[str], min_group_clients: int) -> tuple[pd.DataFrame, str | None]:
    """Score check-ins and add the derived model columns that the data allow."""
    if any(re.fullmatch(r"chk_\d\d", str(c)) for c in data.columns):
        from lacrima.scoring import score

        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                scored = score(data, "session_checkin", strict=False)
            notes.extend(str(w.message) for w in caught)
            new = [c for c in scored.columns if c not in data.columns]
            data = pd.concat([data, scored[new]], axis=1)
            notes.append(f"check-in items scored: {', '.join(scored.columns)}")
        except DataError as exc:
            notes.append(f"check-in items not scored: {exc}")
    alliance_col = next((c for c in ("chk_alliance", "alliance") if c in data.columns), None)
    if "cried" in data.columns:
        from lacrima.longitudinal._sessions_common import binary_values

        try:
            data["cried"] = binary_values(data, "cried", "analyze_sessions")
        except DataError as exc:
            notes.append(f"cried not used: {exc}")
            data = data.drop(columns="cried")
    data = code_time(data, origin="first", scale=SESSION_SCALE, name="session_c")
    if "cried" in data.columns:
        lagged = lag(data, "cried")
        data = decompose(lagged.data, "cried_lag1")
        notes.append(f"crying at t-1: {lagged.note}")
    for col in ("ecr_anxiety", "ecr_avoidance"):
        if col in data.columns and pd.api.types.is_numeric_dtype(data[col]):
            client_means = data.groupby("client_id")[col].mean()
            data[f"{col}_c"] = data[col] - float(client_means.mean())
    for col, order in _ORDER.items():
        if col in data.columns:
            data[col] = _as_category(data, col, order, min_group_clients, notes)
    return data, alliance_col


def _as_category(
    data: pd.DataFrame, col: str, order: tuple[str, ...], min_clients: int, notes: list[str]
) -> pd.Series:
    """A categorical with the reference level first; categories of too few clients become missing."""
    values = data[col].astype(object).where(data[col].notna(), None)
    per_level = data.assign(_v=values).dropna(subset=["_v"]).groupby("_v")["client_id"].nunique()
    small = sorted(str(k) for k, n in per_level.items() if n < min_clients)
    if small:
        counts = ", ".join(f"{k} ({per_level[k]})" for k in small)
        notes.append(
            f"{col}: categories with fewer than {min_clients} clients left out of the models using {col}: "
            f"{counts}"
        )
        values = values.where(~values.isin(small), None)
    present = [v for v in per_level.index if str(v) not in small]
    levels = [v for v in order if v in present] + sorted((v for v in present if v not in order), key=str)
    return pd.Series(pd.Categorical(values, categories=levels), index=data.index, name=col)


def _strip_random(formula: str, group: str) -> str:
    """Remove random terms grouped by ``group`` (e.g. therapist_id when the table has no therapists)."""
    pattern = r"\s*\+\s*\([^()|]*\|\|?\s*" + re.escape(group) + r"\s*\)"
    return re.sub(pattern, "", formula)


def _formulas(h: LongitudinalHypothesis, alliance: str | None, data: pd.DataFrame) -> list[str]:
    out = []
    for f in (h.formula, *h.fallbacks):
        f = f.replace("{alliance}", alliance or "alliance")
        if "therapist_id" not in data.columns:
            f = _strip_random(f, "therapist_id")
        if f not in out:
            out.append(f)
    return out


def _not_run(h: LongitudinalHypothesis, planned: str, reason: str) -> LongitudinalModel:
    return LongitudinalModel(
        id=h.id,
        title=h.title,
        family=h.family,
        formula=planned,
        planned_formula=planned,
        terms=h.terms,
        ran=False,
        reason=reason,
        fixed=pd.DataFrame(columns=["estimate", "se", "df", "t", "p", "ci_low", "ci_high"]),
        varcomp=pd.DataFrame(columns=["group", "var1", "var2", "vcov", "sdcor"]),
        n_sessions=0,
        n_clients=0,
        n_therapists=None,
        description=h.description,
    )


def _missing_columns(formula: str, data: pd.DataFrame) -> list[str]:
    needed = parse_formula(formula).variables()
    out: list[str] = []
    for v in needed:
        if v in data.columns:
            continue
        out.extend(s for s in _DERIVED.get(v, (v,)) if s not in data.columns)
        if v in _DERIVED and all(s in data.columns for s in _DERIVED[v]):
            out.append(v)
    return list(dict.fromkeys(out))


def _run(
    h: LongitudinalHypothesis, data: pd.DataFrame, alliance: str | None, blocked: str, min_clients: int
) -> LongitudinalModel:
    formulas = _formulas(h, alliance, data)
    planned = formulas[0]
    if blocked:
        return _not_run(h, planned, blocked)
    try:
        lacking = {f: _missing_columns(f, data) for f in formulas}
    except DataError as exc:
        return _not_run(h, planned, f"the formula cannot be read: {exc}")
    usable = [f for f in formulas if not lacking[f]]
    if not usable:
        reason = f"needs the column(s) {', '.join(lacking[planned])}, which the session table lacks"
        return _not_run(h, planned, reason)
    notes: list[str] = []
    if usable[0] != planned:
        notes.append(
            f"{planned} needs the column(s) {', '.join(lacking[planned])}, which the session table lacks; "
            f"fitted {usable[0]} instead"
        )
    variables = parse_formula(usable[0]).variables()
    complete = data[variables].dropna()
    n_clients = int(complete["client_id"].nunique()) if "client_id" in complete.columns else 0
    if n_clients < min_clients:
        return _not_run(
            h,
            planned,
            f"only {n_clients} clients have complete data for it; at least {min_clients} are needed",
        )
    formulas = usable
    last: tuple[MixedResult, list[str]] | None = None
    for i, formula in enumerate(formulas):
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                fit = mixed(formula, data, family=h.family)  # type: ignore[arg-type]
        except (DataError, ValueError, np.linalg.LinAlgError, RuntimeError) as exc:
            notes.append(f"{formula} could not be fitted ({exc})")
            continue
        trouble = [str(w.message) for w in caught if issubclass(w.category, Warning)]
        last = (fit, trouble)
        if not (fit.singular or not fit.converged) or i == len(formulas) - 1:
            break
        why = "singular" if fit.singular else "did not converge"
        notes.append(f"{formula} was {why}; simplified to {formulas[i + 1]}")
    if last is None:
        return _not_run(h, planned, "no formula of the plan entry could be fitted: " + "; ".join(notes))
    fit, trouble = last
    n_ther = fit.ngroups.get("therapist_id")
    return LongitudinalModel(
        id=h.id,
        title=h.title,
        family=h.family,
        formula=fit.formula,
        planned_formula=planned,
        terms=h.terms,
        ran=True,
        reason="",
        fixed=fit.fixed,
        varcomp=fit.varcomp,
        n_sessions=fit.nobs,
        n_clients=int(fit.ngroups.get("client_id", 0)),
        n_therapists=int(n_ther) if n_ther is not None else None,
        warnings=tuple(trouble),
        notes=tuple(notes),
        description=h.description,
        fit=fit,
    )


def _grid(data: pd.DataFrame) -> np.ndarray:
    """Session numbers from the first to the last one that at least a tenth of the clients reached."""
    per_client_last = data.groupby("client_id")["session"].max()
    first = float(pd.to_numeric(data["session"]).min())
    last = float(np.quantile(per_client_last.to_numpy(dtype=float), 0.9))
    return np.arange(first, max(last, first) + 1.0)


_CURVE_TERMS = frozenset({"(Intercept)", "session_c", "cried_lag1"})


def _curve_model(models: tuple[LongitudinalModel, ...]) -> LongitudinalModel | None:
    """The model the population alliance curve comes from, found by what it is: a linear model of the
    session alliance whose fixed effects are exactly growth (``session_c``) and crying at t-1."""
    for m in models:
        terms = set(map(str, m.fixed.index))
        if m.ran and m.fit is not None and m.family == "gaussian" and terms == _CURVE_TERMS:
            return m
    return None


def _alliance_curve(
    models: tuple[LongitudinalModel, ...], data: pd.DataFrame, notes: list[str]
) -> pd.DataFrame:
    model = _curve_model(models)
    if model is None or model.fit is None:
        if "session" in data.columns and "cried_lag1" in data.columns:
            notes.append(
                "population alliance curve not drawn: no model of the session alliance on session_c and "
                "cried_lag1 alone ran"
            )
        return pd.DataFrame(columns=["session", "alliance", "model"])
    sessions = _grid(data)
    first = float(pd.to_numeric(data["session"]).min())
    new = pd.DataFrame({"session": sessions, "session_c": (sessions - first) / SESSION_SCALE})
    # crying at t-1 held at its sample share, so the curve is the average client's expected alliance
    new["cried_lag1"] = float(pd.to_numeric(data["cried_lag1"]).mean())
    pred = model.fit.predict(new, re_form="~0")
    return pd.DataFrame({"session": sessions, "alliance": pred.to_numpy(), "model": model.id})


def _empty_style() -> pd.DataFrame:
    return pd.DataFrame(columns=["session", "group", "p", "ci_low", "ci_high"])


def _crying_by_style(data: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Population-level probability of crying by attachment style over sessions, with 95 % Wald bands.

    Fitted as ``cried ~ 0 + attachment_style + attachment_style:t + (1 | client_id)`` (``t = session_c``):
    each style's intercept ``a`` and slope ``b`` and their covariance from ``vcov`` give the delta-method
    interval of the linear predictor ``a + b t`` at every session, as R's
    ``sqrt(V[a, a] + 2 t V[a, b] + t^2 V[b, b])``.

    Whatever is left out (the whole figure, or one style) is said in ``notes``.
    """
    what = "crying by attachment style over sessions"
    missing = sorted({"attachment_style", "cried", "session_c"} - set(data.columns))
    if missing:
        notes.append(f"{what} not estimated: the sessions lack {', '.join(missing)}")
        return _empty_style()
    frame = data.dropna(subset=["attachment_style", "cried", "session_c"])
    n_clients, n_styles = frame["client_id"].nunique(), frame["attachment_style"].nunique()
    if n_clients < 20 or n_styles < 2:
        notes.append(
            f"{what} not estimated: {n_clients} client(s) with {n_styles} attachment style(s); "
            "it needs at least 20 clients and two styles"
        )
        return _empty_style()
    sessions = _grid(frame)
    first = float(pd.to_numeric(data["session"]).min())
    formula = "cried ~ 0 + attachment_style + attachment_style:t + (1 | client_id)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = mixed(formula, frame.assign(t=frame["session_c"]), family="binomial")
    except (DataError, ValueError, np.linalg.LinAlgError, RuntimeError) as exc:
        notes.append(f"{what} not estimated: {formula} could not be fitted ({exc})")
        return _empty_style()
    rows = []
    t = (sessions - first) / SESSION_SCALE
    for level in frame["attachment_style"].cat.categories:
        a, b = f"attachment_style{level}", f"attachment_style{level}:t"
        if a not in fit.fixed.index or b not in fit.fixed.index:
            notes.append(f"{what}: style {level!s} left out (its terms are not in the fitted model)")
            continue
        va, vb, cov = _num(fit.vcov, a, a), _num(fit.vcov, b, b), _num(fit.vcov, a, b)
        eta = _num(fit.fixed, a, "estimate") + _num(fit.fixed, b, "estimate") * t
        se = np.sqrt(np.maximum(va + 2.0 * t * cov + t**2 * vb, 0.0))
        for s, e, sd in zip(sessions, eta, se, strict=True):
            rows.append(
                {
                    "session": s,
                    "group": str(level),
                    "p": _expit(e),
                    "ci_low": _expit(e - 1.959963984540054 * sd),
                    "ci_high": _expit(e + 1.959963984540054 * sd),
                }
            )
    return pd.DataFrame(rows) if rows else _empty_style()


def _num(frame: pd.DataFrame, row: str, col: str) -> float:
    return float(frame.at[row, col])  # type: ignore[arg-type]


def _expit(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def _example_client(data: pd.DataFrame) -> Any:
    """A typical client for the one-client figure: among clients with at least the median number of
    sessions and two or more crying sessions, the one at the median number of crying sessions (ties: the
    first id), so the figure shows neither a client who never cries nor one who cries every week."""
    if "cried" not in data.columns:
        return None
    per = data.groupby("client_id", sort=True).agg(n=("session", "size"), cries=("cried", "sum"))
    long = per[(per["n"] >= per["n"].median()) & (per["cries"] >= 2)]
    if long.empty:
        long = per[per["cries"] >= 1]
    if long.empty:
        return None
    ordered = long.sort_values("cries", kind="stable")
    return ordered.index[(len(ordered) - 1) // 2]

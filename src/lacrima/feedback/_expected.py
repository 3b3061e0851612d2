"""Expected recovery: the symptom trajectory of clients of similar intake severity.

Model (fitted to a clinic's archive with ``lc.mixed``; one row per measurement after the intake)::

    y_ij = b0 + b1 L_ij + b2 x_i + b3 L_ij x_i + u0_i + u1_i L_ij + e_ij
    L_ij = log(session_ij),   x_i = intake_i - c   (c: the archive's mean intake)
    (u0, u1) ~ N(0, G),  e ~ N(0, sigma^2)

written ``y ~ lt * xc + (1 + lt | client_id)``. The intake is a client's first measurement. The expected
total of a new client at session s with intake I is ``mu = b0 + b1 L + b2 x + b3 L x`` and the spread of
their observed total around it ``sd = sqrt(G00 + 2 L G01 + L^2 G11 + sigma^2)`` (random effects and
residual; the uncertainty of the fixed effects is ignored, small against these for an archive of the size
the fit requires). The band's upper edge is ``mu + z_q sd``.

Default trajectory (used and flagged while the archive is too small): the same form with
``mu = I - delta (I - f) log(s) / log(16)``, ``delta = 0.5``, f the instrument's general-population mean
(its norms), no random effects and ``sigma`` the standard error of a difference of Jacobson & Truax at the
not-on-track rule's ``sd_pre``. The shape (linear in log session, a negatively accelerated dose-effect
curve) follows Howard et al. (1986) and Finch, Lambert & Schaalje (2001); the size (half the way to the
general-population mean by session 16) is lacrima's assumption, not an estimate from any study.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from lacrima._results import Result
from lacrima.errors import DataError
from lacrima.feedback._rules import load_rules
from lacrima.feedback._scores import MEASURES
from lacrima.instruments import load_instrument
from lacrima.scoring import score

__all__ = ["ExpectedRecovery", "default_expected_recovery", "fit_expected_recovery"]

FORMULA = "y ~ lt * xc + (1 + lt | client_id)"
_NAMES = {"phq9": "PHQ-9", "gad7": "GAD-7"}
DEFAULT_DELTA = 0.5
DEFAULT_HORIZON = 16
_TERMS = ("(Intercept)", "lt", "xc", "lt:xc")


def z_of(quantile: float) -> float:
    """The standard normal quantile."""
    return float(math.sqrt(2.0) * special.erfinv(2.0 * quantile - 1.0))


@dataclass(frozen=True, eq=False)
class ExpectedRecovery(Result):
    """An expected-recovery curve for one measure (see the module notes for the model).

    Attributes
    ----------
    measure : str
        ``"phq9"`` or ``"gad7"``.
    is_default : bool
        True when this is the documented default trajectory, not a fit to the clinic's archive.
    note : str
        Why the default is used, or what the fit reported (warnings are kept here, never dropped).
    n_clients, n_measurements : int
        Archive clients with an intake and a later measurement, and the measurements after intake fitted.
    intake_centre : float
        ``c``: intakes are centred on it.
    coef : mapping
        ``(Intercept)``, ``lt``, ``xc``, ``lt:xc``.
    var_intercept, var_slope, cov_intercept_slope, residual_var : float
        ``G00``, ``G11``, ``G01`` and ``sigma^2``.
    intake_sd : float
        SD of the archive's intake totals (NaN for the default), used by the RCI.
    formula, source : str
        The model and where its numbers come from.
    """

    measure: str
    is_default: bool
    note: str
    n_clients: int
    n_measurements: int
    intake_centre: float
    coef: Mapping[str, float]
    var_intercept: float
    var_slope: float
    cov_intercept_slope: float
    residual_var: float
    intake_sd: float
    formula: str
    source: str

    def mean(self, session: float | np.ndarray, intake: float | np.ndarray) -> np.ndarray:
        """Expected total at ``session`` for clients with this ``intake``."""
        lt = np.log(np.asarray(session, dtype=float))
        xc = np.asarray(intake, dtype=float) - self.intake_centre
        c = self.coef
        return np.asarray(c["(Intercept)"] + c["lt"] * lt + c["xc"] * xc + c["lt:xc"] * lt * xc)

    def sd(self, session: float | np.ndarray) -> np.ndarray:
        """SD of a client's observed total around the expected one at ``session``."""
        lt = np.log(np.asarray(session, dtype=float))
        var = self.var_intercept + 2.0 * lt * self.cov_intercept_slope + lt**2 * self.var_slope
        return np.asarray(np.sqrt(np.maximum(var, 0.0) + self.residual_var))

    def band(self, sessions: np.ndarray | list[int], intake: float, quantile: float = 0.9) -> pd.DataFrame:
        """``session, expected, lower, upper``: the central band holding ``quantile`` of clients' totals
        at ``upper`` (the one-sided edge the not-on-track rule uses) and its mirror ``lower``."""
        s = np.asarray(sessions, dtype=float)
        mu, sd = self.mean(s, intake), self.sd(s)
        z = z_of(quantile)
        return pd.DataFrame({"session": s, "expected": mu, "lower": mu - z * sd, "upper": mu + z * sd})

    def table(self) -> pd.DataFrame:
        """The coefficients and variances: ``term, estimate``."""
        rows = [(k, float(v)) for k, v in self.coef.items()] + [
            ("var(intercept)", self.var_intercept),
            ("var(lt)", self.var_slope),
            ("cov(intercept, lt)", self.cov_intercept_slope),
            ("residual var", self.residual_var),
        ]
        return pd.DataFrame(rows, columns=["term", "estimate"])


def _check_measure(measure: str) -> None:
    if measure not in MEASURES:
        raise DataError(f"no expected recovery for {measure!r}; choose one of {', '.join(MEASURES)}")


def default_expected_recovery(measure: str = "phq9", *, note: str = "") -> ExpectedRecovery:
    """The documented default trajectory of ``measure`` (see the module notes); ``is_default`` is True.

    Examples
    --------
    >>> from lacrima import feedback as fb
    >>> exp = fb.default_expected_recovery("phq9")
    >>> exp.is_default, round(float(exp.mean(16, 20.0)), 2)
    (True, 11.46)
    """
    _check_measure(measure)
    # a fresh (equal) object per call: callers get a value, never a shared instance
    return dataclasses.replace(_default(measure, note))


@functools.lru_cache(maxsize=64)
def _default(measure: str, note: str) -> ExpectedRecovery:
    inst = load_instrument(MEASURES[measure][0])
    norms = inst.norms[MEASURES[measure][1]]
    rule = load_rules()["not-on-track"]
    sd_pre = float(rule[f"sd_pre_{measure}"])
    reliability = float(norms.reliability) if norms.reliability is not None else math.nan
    se_diff = sd_pre * math.sqrt(2.0 * (1.0 - reliability))
    f = float(norms.functional_mean) if norms.functional_mean is not None else 0.0
    k = DEFAULT_DELTA / math.log(DEFAULT_HORIZON)
    centre = 14.0 if measure == "phq9" else 11.0
    return ExpectedRecovery(
        measure=measure,
        is_default=True,
        note=note
        or (
            f"default trajectory (an approximation, not the clinic's own data): half the way from intake to "
            f"the general-population mean {f:g} by session {DEFAULT_HORIZON}, linear in log(session)"
        ),
        n_clients=0,
        n_measurements=0,
        intake_centre=centre,
        coef={"(Intercept)": centre, "lt": -k * (centre - f), "xc": 1.0, "lt:xc": -k},
        var_intercept=0.0,
        var_slope=0.0,
        cov_intercept_slope=0.0,
        residual_var=se_diff**2,
        intake_sd=math.nan,
        formula=(
            f"mu = I - {DEFAULT_DELTA} (I - {f:g}) log(s) / log({DEFAULT_HORIZON}); "
            f"sd = SE_diff = {se_diff:.3f}"
        ),
        source=(
            "Shape: Howard, Kopta, Krause & Orlinsky (1986); Finch, Lambert & Schaalje (2001). "
            "Size: lacrima's assumption. Spread: the Jacobson-Truax SE of a difference with "
            f"sd_pre = {sd_pre:g} and reliability {reliability:g} ({inst.name} norms)."
        ),
    )


def _totals(archive: pd.DataFrame, measure: str) -> pd.DataFrame:
    """``client_id, session, y`` for every archive row with a total of ``measure``."""
    if not isinstance(archive, pd.DataFrame):
        raise DataError(f"the archive must be a DataFrame of sessions, not {type(archive).__name__}")
    missing = [c for c in ("client_id", "session") if c not in archive.columns]
    if missing:
        raise DataError(f"the archive lacks the column(s) {', '.join(missing)}; give one row per session")
    inst = load_instrument(MEASURES[measure][0])
    total_col = f"{measure}_total"
    if total_col in archive.columns:
        y = pd.to_numeric(archive[total_col], errors="coerce")
    else:
        cols = [it.column for it in inst.items]
        present = [c for c in cols if c in archive.columns]
        if not present:
            raise DataError(
                f"the archive has neither a {total_col} column nor the {inst.name} items ({cols[0]}...)"
            )
        if len(present) < len(cols):
            absent = [c for c in cols if c not in present]
            raise DataError(f"the archive lacks the {inst.name} item column(s) {', '.join(absent)}")
        rows = archive[present].notna().any(axis=1).to_numpy()
        y = pd.Series(np.nan, index=archive.index)
        if rows.any():
            y[rows] = score(archive.loc[rows, present], inst)[f"{inst.prefix}_{MEASURES[measure][1]}"]
    out = pd.DataFrame(
        {
            "client_id": archive["client_id"].to_numpy(),
            "session": pd.to_numeric(archive["session"], errors="coerce"),
            "y": y.to_numpy(dtype=float),
        }
    )
    return out.dropna().sort_values(["client_id", "session"], kind="stable")


def fit_expected_recovery(
    archive: pd.DataFrame, measure: str = "phq9", *, min_clients: int | None = None
) -> ExpectedRecovery:
    """Fit expected recovery of ``measure`` to a clinic's archive with ``lc.mixed``.

    Parameters
    ----------
    archive : DataFrame
        Sessions of many clients: ``client_id``, ``session`` and either ``phq9_total``/``gad7_total`` or the
        raw items (``phq_01``...; scored with ``lc.score``); rows without a measurement are ignored.
    measure : {"phq9", "gad7"}
    min_clients : int, optional
        Fewest clients with an intake and a later measurement (default: the not-on-track rule's
        ``min_archive_clients``, 50). With fewer, the default trajectory is returned with ``is_default``
        True and a ``note`` saying so: never silently.

    Returns
    -------
    ExpectedRecovery
    """
    _check_measure(measure)
    if min_clients is None:
        min_clients = int(load_rules()["not-on-track"]["min_archive_clients"])
    d = _totals(archive, measure)
    first = d.groupby("client_id", sort=False).head(1).set_index("client_id")
    later = d[d["session"] > d["client_id"].map(first["session"])].copy()
    clients = later["client_id"].unique()
    if len(clients) < min_clients:
        return default_expected_recovery(
            measure,
            note=(
                f"default trajectory (an approximation): the archive has {len(clients)} client(s) with an "
                f"intake and a later {_NAMES[measure]} measurement; fitting the clinic's own curve needs "
                f"{min_clients}"
            ),
        )
    intake = later["client_id"].map(first["y"])
    intakes = first.loc[clients, "y"]
    centre = float(intakes.mean())
    later["lt"] = np.log(later["session"].to_numpy(dtype=float))
    later["xc"] = intake.to_numpy(dtype=float) - centre
    import lacrima as lc  # the public lc.mixed, imported when a fit is asked for

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = lc.mixed(FORMULA, later[["client_id", "lt", "xc", "y"]])
        except DataError as exc:  # e.g. as lme4: no more measurements than random effects
            return default_expected_recovery(
                measure,
                note=(
                    f"default trajectory (an approximation): the archive's {len(later)} later "
                    f"{_NAMES[measure]} measurements of {len(clients)} clients could not be fitted "
                    f"({exc.summary})"
                ),
            )
    fixed = fit.fixed["estimate"]
    vc = fit.varcomp
    intercept_var = _vc(vc, "(Intercept)", None)
    slope_var = _vc(vc, "lt", None)
    cov = _vc(vc, "(Intercept)", "lt")
    resid = float(vc.loc[vc["group"] == "Residual", "vcov"].iloc[0])
    said = "; ".join(f"{type(w.message).__name__}: {w.message}" for w in caught)
    return ExpectedRecovery(
        measure=measure,
        is_default=False,
        note=f"fitted to the clinic's archive with lc.mixed ({len(clients)} clients)"
        + (f"; {said}" if said else ""),
        n_clients=len(clients),
        n_measurements=len(later),
        intake_centre=centre,
        coef={t: float(fixed[t]) for t in _TERMS},
        var_intercept=intercept_var,
        var_slope=slope_var,
        cov_intercept_slope=cov,
        residual_var=resid,
        intake_sd=float(intakes.std(ddof=1)),
        formula=FORMULA,
        source="the clinic's archive",
    )


def _vc(vc: pd.DataFrame, var1: str, var2: str | None) -> float:
    rows = vc[(vc["group"] == "client_id") & (vc["var1"] == var1)]
    rows = rows[rows["var2"].isna()] if var2 is None else rows[rows["var2"] == var2]
    if rows.empty:
        raise DataError(f"lc.mixed reported no variance component {var1}/{var2} for client_id")
    return float(rows["vcov"].iloc[0])

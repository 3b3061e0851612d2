"""Reliable change index and clinically significant change (Jacobson & Truax, 1991)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from lacrima._results import Result
from lacrima.errors import DataError
from lacrima.instruments import Instrument, Norms
from lacrima.scoring._validate import as_instrument

__all__ = ["CHANGE_CATEGORIES", "ReliableChangeResult", "reliable_change"]

CHANGE_CATEGORIES = ("recovered", "improved", "unchanged", "deteriorated")
_Z = 1.96


@dataclass(frozen=True, eq=False)
class ReliableChangeResult(Result):
    """Reliable and clinically significant change for each person.

    Attributes
    ----------
    per_person : DataFrame
        Aligned to the input: ``pre``, ``post``, ``change`` (post - pre), ``rci``, ``reliable`` (|RCI| >
        1.96), ``improved_reliably``, ``deteriorated_reliably``, ``pre_dysfunctional``,
        ``post_functional`` and ``category`` (recovered / improved / unchanged / deteriorated; missing
        when pre or post is missing).
    counts : Mapping[str, int]
        People in each category.
    n : int
        People with both scores.
    n_excluded : int
        People left out because pre or post was missing.
    se_diff : float
        Standard error of a difference, ``sd_pre * sqrt(2) * sqrt(1 - reliability)``.
    reliable_difference : float
        Smallest change in raw points that is reliable, ``1.96 * se_diff``.
    cutoff : float
        Score that separates the dysfunctional from the functional range (NaN when not computed).
    cutoff_criterion : str
        ``"a"``, ``"b"``, ``"c"``, ``"norms"`` or ``"given"``.
    reliability, sd_pre : float
        The values used.
    higher_is_better : bool
        Direction of improvement.
    """

    per_person: pd.DataFrame
    counts: Mapping[str, int]
    n: int
    n_excluded: int
    se_diff: float
    reliable_difference: float
    cutoff: float
    cutoff_criterion: str
    reliability: float
    sd_pre: float
    higher_is_better: bool

    def table(self) -> pd.DataFrame:
        """Counts per category: ``category``, ``n``, ``proportion`` (of people with both scores)."""
        total = self.n
        return pd.DataFrame(
            {
                "category": list(CHANGE_CATEGORIES),
                "n": [int(self.counts.get(c, 0)) for c in CHANGE_CATEGORIES],
                "proportion": [
                    self.counts.get(c, 0) / total if total else float("nan") for c in CHANGE_CATEGORIES
                ],
            }
        )


def _norms_of(instrument: str | Instrument, subscale: str | None) -> Norms:
    inst = as_instrument(instrument)
    if not inst.norms:
        raise DataError(f"{inst.id} ships no norms; pass reliability=..., clinical=... and functional=...")
    if subscale is None:
        if len(inst.norms) != 1:
            raise DataError(f"{inst.id} has norms for {', '.join(inst.norms)}; say which with subscale=...")
        subscale = next(iter(inst.norms))
    if subscale not in inst.norms:
        raise DataError(f"{inst.id} has no norms for {subscale!r}; it has norms for {', '.join(inst.norms)}")
    return inst.norms[subscale]


def _as_series(x: pd.Series | Sequence[float] | np.ndarray, name: str) -> pd.Series:
    if isinstance(x, pd.Series):
        s = x
    else:
        arr = np.asarray(x)
        if arr.ndim != 1:
            raise DataError(f"{name} must be one score per person (one-dimensional), got shape {arr.shape}")
        s = pd.Series(arr)
    out = pd.to_numeric(s, errors="coerce").astype("float64")
    bad = s.notna() & out.isna()
    if bad.any():
        raise DataError(
            f"{name} has values that are not numbers at {list(map(str, s.index[bad.to_numpy()]))[:10]}"
        )
    return out


def _positive(value: float | None, what: str) -> float:
    if value is None or not math.isfinite(float(value)) or float(value) <= 0:
        raise DataError(f"{what} must be a positive number, got {value!r}")
    return float(value)


def _jt_cutoff(
    criterion: str,
    clinical: tuple[float, float] | None,
    functional: tuple[float, float] | None,
    sign: float,
) -> float:
    """Jacobson & Truax's cut-off a, b or c; ``sign`` is +1 when higher scores are better."""
    needs = {"a": ("clinical",), "b": ("functional",), "c": ("clinical", "functional")}[criterion]
    given = {"clinical": clinical, "functional": functional}
    missing = [w for w in needs if given[w] is None]
    if missing:
        raise DataError(
            f"cutoff criterion {criterion!r} needs {' and '.join(f'{w}=(mean, sd)' for w in missing)}; "
            "pass them, use an instrument with norms, or give cutoff_criterion a number"
        )
    m1 = s1 = m0 = s0 = float("nan")
    if clinical is not None:
        m1, s1 = float(clinical[0]), _positive(clinical[1], "the clinical SD")
    if functional is not None:
        m0, s0 = float(functional[0]), _positive(functional[1], "the functional SD")
    if criterion == "a":
        return m1 + sign * 2.0 * s1
    if criterion == "b":
        return m0 - sign * 2.0 * s0
    return (s1 * m0 + s0 * m1) / (s1 + s0)


def reliable_change(
    pre: pd.Series | Sequence[float] | np.ndarray,
    post: pd.Series | Sequence[float] | np.ndarray,
    *,
    reliability: float | None = None,
    sd_pre: float | None = None,
    higher_is_better: bool | None = None,
    clinical: tuple[float, float] | None = None,
    functional: tuple[float, float] | None = None,
    cutoff_criterion: Literal["a", "b", "c", "norms"] | float = "c",
    instrument: str | Instrument | None = None,
    subscale: str | None = None,
) -> ReliableChangeResult:
    """Reliable change index and clinically significant change after Jacobson & Truax (1991).

    Parameters
    ----------
    pre, post : Series or array
        Scores before and after (Series are aligned on their index; arrays must have equal length).
    reliability : float, optional
        Reliability of the measure (test-retest or alpha) from a reference sample. Default: the
        instrument's norms.
    sd_pre : float, optional
        SD of pre-treatment scores in the reference (clinical) population. Default: the SD in ``clinical``
        (given or from the norms), else the SD of ``pre`` in these data (ddof = 1).
    higher_is_better : bool, optional
        Direction of improvement. Default: the norms' setting, else False (symptom scales).
    clinical, functional : (mean, sd), optional
        Means and SDs of the dysfunctional (clinical) and functional (non-clinical) populations. Default:
        the norms.
    cutoff_criterion : {"a", "b", "c", "norms"} or float, default "c"
        ``"a"``: 2 SD beyond the clinical mean, towards health; ``"b"``: within 2 SD of the functional mean
        (its far edge); ``"c"``: the weighted midpoint ``(s_clin * m_func + s_func * m_clin) /
        (s_clin + s_func)``; ``"norms"``: the cut-off stored in the instrument's norms; a number: that
        cut-off.
    instrument, subscale : optional
        Take reliability, SDs, means, cut-off and direction from ``instrument.norms[subscale]`` (phq9 and
        gad7 ship norms). Explicit arguments win over the norms.

    Returns
    -------
    ReliableChangeResult

    Notes
    -----
    ``SE_diff = sd_pre * sqrt(2) * sqrt(1 - reliability)`` and ``RCI = (post - pre) / SE_diff``; a change is
    reliable when ``|RCI| > 1.96``. Categories: *recovered* = reliable improvement that ends beyond the
    cut-off from a start on the dysfunctional side; *improved* = reliable improvement that is not a
    recovery (including people who started on the functional side); *deteriorated* = reliable worsening;
    *unchanged* = the rest. "Beyond the cut-off" is strict: a score equal to the cut-off stays on the
    dysfunctional side. When no cut-off can be formed (no means given and none in the norms with
    ``cutoff_criterion="c"``) this is an error; pass ``cutoff_criterion`` as a number to use your own.

    Jacobson, N. S., & Truax, P. (1991). Clinical significance: A statistical approach to defining
    meaningful change in psychotherapy research. Journal of Consulting and Clinical Psychology, 59(1),
    12-19. This is arithmetic; the tests check it against a worked example computed by hand.

    Examples
    --------
    >>> from lacrima.scoring import reliable_change
    >>> res = reliable_change([20, 18, 15], [8, 15, 22], reliability=0.84, sd_pre=5.0,
    ...                       clinical=(17.0, 5.0), functional=(5.0, 4.0))
    >>> res.per_person["category"].tolist()
    ['recovered', 'unchanged', 'deteriorated']
    """
    norms = _norms_of(instrument, subscale) if instrument is not None else None
    pre_s, post_s = _as_series(pre, "pre"), _as_series(post, "post")
    if isinstance(pre, pd.Series) and isinstance(post, pd.Series):
        if not pre_s.index.equals(post_s.index):
            if pre_s.index.has_duplicates or post_s.index.has_duplicates:
                raise DataError("pre and post have different, non-unique indexes; align them first")
            pre_s, post_s = pre_s.align(post_s, join="outer")
    elif len(pre_s) != len(post_s):
        raise DataError(f"pre has {len(pre_s)} scores and post {len(post_s)}; give one pair per person")
    else:
        post_s.index = pre_s.index

    if reliability is None and norms is not None:
        reliability = norms.reliability
    if reliability is None:
        raise DataError("pass reliability=... (or an instrument whose norms give it)")
    r = float(reliability)
    if not 0 <= r < 1:
        raise DataError(f"reliability must lie in [0, 1), got {reliability!r}")
    if clinical is None and norms is not None and norms.clinical_mean is not None:
        clinical = (norms.clinical_mean, norms.clinical_sd) if norms.clinical_sd is not None else None
    if functional is None and norms is not None and norms.functional_mean is not None:
        functional = (norms.functional_mean, norms.functional_sd) if norms.functional_sd is not None else None
    if sd_pre is None:
        if clinical is not None:
            sd_pre = clinical[1]
        else:
            if pre_s.notna().sum() < 2:
                raise DataError("pass sd_pre=...: fewer than two pre scores to estimate it from")
            sd_pre = float(pre_s.std(ddof=1))
    sd = _positive(sd_pre, "sd_pre")
    if higher_is_better is None:
        higher_is_better = bool(norms.higher_is_better) if norms is not None else False
    sign = 1.0 if higher_is_better else -1.0

    criterion: str
    if isinstance(cutoff_criterion, (int, float)) and not isinstance(cutoff_criterion, bool):
        cutoff, criterion = float(cutoff_criterion), "given"
    elif cutoff_criterion == "norms":
        if norms is None or norms.cutoff is None:
            raise DataError("cutoff_criterion='norms' needs an instrument whose norms give a cutoff")
        cutoff, criterion = float(norms.cutoff), "norms"
    elif cutoff_criterion in ("a", "b", "c"):
        criterion = str(cutoff_criterion)
        cutoff = _jt_cutoff(criterion, clinical, functional, sign)
    else:
        raise DataError(
            f"cutoff_criterion must be 'a', 'b', 'c', 'norms' or a number, not {cutoff_criterion!r}"
        )

    se_diff = sd * math.sqrt(2.0) * math.sqrt(1.0 - r)
    change = post_s - pre_s
    rci = change / se_diff
    both = pre_s.notna() & post_s.notna()
    improved = both & (sign * rci > _Z)
    worse = both & (-sign * rci > _Z)
    pre_dys = sign * (pre_s - cutoff) <= 0
    post_func = sign * (post_s - cutoff) > 0
    recovered = improved & pre_dys & post_func
    labels = np.full(len(pre_s), "unchanged", dtype=object)
    labels[worse.to_numpy()] = "deteriorated"
    labels[improved.to_numpy()] = "improved"
    labels[recovered.to_numpy()] = "recovered"
    labels[~both.to_numpy()] = None
    category = pd.Series(labels, index=pre_s.index, dtype=object)
    per_person = pd.DataFrame(
        {
            "pre": pre_s,
            "post": post_s,
            "change": change,
            "rci": rci,
            "reliable": both & (rci.abs() > _Z),
            "improved_reliably": improved,
            "deteriorated_reliably": worse,
            "pre_dysfunctional": pre_dys.where(pre_s.notna()),
            "post_functional": post_func.where(post_s.notna()),
            "category": pd.Categorical(category, categories=list(CHANGE_CATEGORIES)),
        },
        index=pre_s.index,
    )
    counts = {c: int((category == c).sum()) for c in CHANGE_CATEGORIES}
    n = int(both.sum())
    return ReliableChangeResult(
        per_person=per_person,
        counts=counts,
        n=n,
        n_excluded=len(per_person) - n,
        se_diff=se_diff,
        reliable_difference=_Z * se_diff,
        cutoff=cutoff,
        cutoff_criterion=criterion,
        reliability=r,
        sd_pre=sd,
        higher_is_better=bool(higher_is_better),
    )

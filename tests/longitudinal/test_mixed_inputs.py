"""lacrima.mixed on bad input, missing data, warnings, formulas and result behaviour."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lacrima.errors import ConvergenceWarning, DataError, SingularFitWarning
from lacrima.longitudinal import mixed
from lacrima.longitudinal._formula import parse_formula

REF = Path(__file__).resolve().parents[1] / "reference"


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    return pd.read_csv(REF / "data" / "sleepstudy.csv")


def test_it_rejects_a_non_numeric_outcome(sleep: pd.DataFrame) -> None:
    data = sleep.assign(Reaction=sleep["Reaction"].astype(str))
    with pytest.raises(DataError, match="must be numeric"):
        mixed("Reaction ~ Days + (1 | Subject)", data)


def test_it_names_every_missing_column(sleep: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"\['alliance', 'client_id'\]") as err:
        mixed("alliance ~ Days + (1 | client_id)", sleep)
    assert [p.column for p in err.value.problems] == ["alliance", "client_id"]


def test_it_rejects_a_grouping_factor_with_one_level(sleep: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="has 1 level"):
        mixed("Reaction ~ Days + (1 | site)", sleep.assign(site="rome"))


def test_it_rejects_a_random_slope_constant_within_groups(sleep: pd.DataFrame) -> None:
    anx = sleep["Subject"].map({s: i / 10 for i, s in enumerate(sleep["Subject"].unique())})
    with pytest.raises(DataError, match="constant within every level"):
        mixed("Reaction ~ Days + anx + (1 + anx | Subject)", sleep.assign(anx=anx))


def test_it_rejects_a_binomial_outcome_that_is_not_zero_one(sleep: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="must be 0/1") as err:
        mixed("Days ~ 1 + (1 | Subject)", sleep, family="binomial")
    assert err.value.problems[0].column == "Days"


def test_it_rejects_an_unknown_family(sleep: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="family"):
        mixed("Reaction ~ Days + (1 | Subject)", sleep, family="poisson")  # type: ignore[arg-type]


def test_it_rejects_a_formula_without_random_terms(sleep: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="no random term"):
        mixed("Reaction ~ Days", sleep)


@pytest.mark.parametrize(
    "formula", ["Reaction ~ log(Days) + (1 | Subject)", "Reaction ~ Days + (1 | Subject", "Reaction Days"]
)
def test_it_explains_unreadable_formulas(sleep: pd.DataFrame, formula: str) -> None:
    with pytest.raises(DataError, match="formula"):
        mixed(formula, sleep)


def test_it_drops_incomplete_rows_listwise_and_reports_them(sleep: pd.DataFrame) -> None:
    data = sleep.copy()
    data.loc[[3, 50], "Reaction"] = np.nan
    data.loc[[7], "Days"] = np.nan
    data["unused"] = np.nan
    fit = mixed("Reaction ~ Days + (Days | Subject)", data)
    ref = mixed("Reaction ~ Days + (Days | Subject)", data.drop(index=[3, 7, 50]))
    assert fit.excluded == 3
    assert fit.excluded_rows == (3, 7, 50)
    assert fit.nobs == 177
    np.testing.assert_allclose(fit.fixed["estimate"], ref.fixed["estimate"], rtol=1e-10)


def test_it_warns_on_a_singular_fit() -> None:
    rng = np.random.default_rng(7)
    data = pd.DataFrame({"y": rng.normal(size=60), "g": np.repeat(np.arange(12), 5)})
    with pytest.warns(SingularFitWarning, match="singular fit"):
        fit = mixed("y ~ 1 + (1 | g)", data)
    assert fit.singular
    assert fit.varcomp.loc[0, "vcov"] == pytest.approx(0.0, abs=1e-10)


def test_it_names_categorical_and_interaction_terms_like_r() -> None:
    data = pd.read_csv(REF / "data" / "three_level.csv")
    data["gender"] = pd.Categorical(data["gender"], categories=["woman", "man"])
    fit = mixed("y ~ session * gender + (1 | client)", data)
    assert list(fit.fixed.index) == ["(Intercept)", "session", "genderman", "session:genderman"]


def test_it_predicts_new_data_and_refuses_unknown_groups(sleep: pd.DataFrame) -> None:
    fit = mixed("Reaction ~ Days + (Days | Subject)", sleep)
    new = pd.DataFrame({"Days": [0.0, 10.0], "Subject": [308, 999]})
    with pytest.raises(DataError, match="allow_new_levels"):
        fit.predict(new)
    pred = fit.predict(new, allow_new_levels=True)
    pop = fit.predict(new[["Days"]], re_form="~0")
    b = fit.fixed["estimate"]
    np.testing.assert_allclose(pop, b["(Intercept)"] + b["Days"] * new["Days"], rtol=1e-12)
    assert pred.iloc[1] == pytest.approx(pop.iloc[1], rel=1e-12)
    re = fit.ranef()["Subject"].loc[308]
    assert pred.iloc[0] == pytest.approx(pop.iloc[0] + re["(Intercept)"], rel=1e-12)


def test_it_has_a_tidy_table_and_json_ready_dict(sleep: pd.DataFrame) -> None:
    fit = mixed("Reaction ~ Days + (Days | Subject)", sleep)
    table = fit.table()
    assert list(table.columns) == ["term", "estimate", "se", "df", "t", "p", "ci_low", "ci_high", "n"]
    out = json.loads(json.dumps(fit.to_dict()))
    assert "_state" not in out
    assert out["fixed"][0]["term"] == "(Intercept)"
    assert out["vcov"]["term"] == ["(Intercept)", "Days"]
    np.testing.assert_array_equal(out["vcov"]["matrix"], fit.vcov.to_numpy())
    assert "<strong>MixedResult</strong>" in fit._repr_html_()


def test_it_expands_formulas_as_r_does() -> None:
    f = parse_formula("y ~ a*b + c - 1 + (x || g) + (1 | t/c2)")
    assert f.fixed == (("a",), ("b",), ("c",), ("a", "b"))
    assert not f.intercept
    assert [(r.intercept, r.terms, r.group) for r in f.random] == [
        (True, (), "g"),
        (False, (("x",),), "g"),
        (True, (), "t"),
        (True, (), "c2:t"),
    ]


def test_it_accepts_a_boolean_binomial_outcome() -> None:
    data = pd.read_csv(REF / "data" / "three_level.csv")
    a = mixed("cried ~ session + (1 | client)", data, family="binomial")
    b = mixed("cried ~ session + (1 | client)", data.assign(cried=data["cried"] == 1), family="binomial")
    np.testing.assert_allclose(b.fixed["estimate"], a.fixed["estimate"], rtol=1e-10)
    assert not b.reml


def test_it_refuses_a_likelihood_ratio_test_on_different_rows(sleep: pd.DataFrame) -> None:
    big = mixed("Reaction ~ Days + (Days | Subject)", sleep)
    small = mixed("Reaction ~ 1 + (Days | Subject)", sleep.iloc[10:])
    with pytest.raises(DataError, match="different rows"):
        small.lrt(big)


def test_it_runs_the_examples_in_the_documentation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REF.parents[1])  # the examples read tests/reference/data from the repository root
    text = (REF.parents[1] / "docs" / "longitudinal.md").read_text()
    section = text.split("## Mixed models", 1)[1].split("\n## ", 1)[0]
    code = "\n".join(re.findall(r"```python\n(.*?)```", section, re.S))
    namespace: dict[str, object] = {}
    exec(compile(code, "docs/longitudinal.md", "exec"), namespace)
    assert namespace["test"].refitted_ml  # type: ignore[attr-defined]


def test_it_predicts_nan_for_rows_missing_a_predictor() -> None:
    data = pd.read_csv(REF / "data" / "three_level.csv")
    fit = mixed("y ~ session + gender + (1 | client)", data)
    new = data.head(3).copy()
    new.loc[new.index[0], "gender"] = np.nan
    new.loc[new.index[1], "client"] = np.nan
    pred = fit.predict(new)
    assert pred.isna().tolist() == [True, True, False]
    assert fit.predict(new, re_form="~0").isna().tolist() == [True, False, False]


def test_it_warns_when_the_engine_reports_no_convergence(
    sleep: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from lacrima.longitudinal import _mixed

    real_fit = _mixed.fit

    def not_converged(*args: object, **kwargs: object) -> object:
        return dataclasses.replace(real_fit(*args, **kwargs), converged=False, message="stopped early")  # type: ignore[arg-type]

    monkeypatch.setattr(_mixed, "fit", not_converged)
    with pytest.warns(ConvergenceWarning, match="stopped early"):
        fit = mixed("Reaction ~ Days + (Days | Subject)", sleep)
    assert not fit.converged

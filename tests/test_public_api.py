"""The public API is a contract: pin its names so that removing or renaming one is a deliberate act."""

import lacrima as lc

EXPECTED = {
    "ConvergenceWarning",
    "DataError",
    "Instrument",
    "InvarianceWarning",
    "LacrimaWarning",
    "MissingDataWarning",
    "SingularFitWarning",
    "SmallSampleWarning",
    "__version__",
    "adjust_p",
    "analyze",
    "analyze_sessions",
    "attachment_style",
    "bootstrap_ci",
    "cfa",
    "code_time",
    "compare_groups",
    "correlate",
    "correlation_matrix",
    "crosstab_test",
    "decompose",
    "descriptives",
    "episodes",
    "invariance",
    "kruskal",
    "lag",
    "list_instruments",
    "load_instrument",
    "load_texts",
    "mann_whitney",
    "meta",
    "mixed",
    "moderation",
    "multisite",
    "pool_summaries",
    "power_by_simulation",
    "prevalence",
    "pseudonymise",
    "pseudonymize",
    "read_qualtrics",
    "read_redcap",
    "read_sessions",
    "read_site_summary",
    "read_sqlite",
    "read_table",
    "reliability",
    "reliable_change",
    "score",
    "score_all",
    "simulate_sessions",
    "simulate_study",
    "site_summary",
    "smd_from_groups",
    "summarise_sessions",
    "summarize_sessions",
    "validate",
    "validate_sessions",
    "validate_site_summary",
    "welch_anova",
    "write_site_summary",
    "write_sqlite",
    "write_table",
}


def test_it_pins_the_public_names() -> None:
    assert set(lc.__all__) == EXPECTED


def test_it_resolves_every_public_name() -> None:
    for name in lc.__all__:
        assert getattr(lc, name) is not None


def test_it_raises_attribute_error_for_unknown_names() -> None:
    try:
        lc.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("unknown attribute did not raise")


def test_it_keeps_import_light() -> None:
    import subprocess
    import sys

    code = "import sys, lacrima; print('matplotlib' in sys.modules, 'django' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]

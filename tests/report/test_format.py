import math

from lacrima.report._format import fmt_ci, fmt_int, fmt_num, fmt_p, fmt_r


def test_it_formats_p_values_the_apa_way() -> None:
    assert fmt_p(0.0004) == "< .001"
    assert fmt_p(0.0123) == ".012"
    assert fmt_p(0.5) == ".500"
    assert fmt_p(0.99991) == "> .999"
    assert fmt_p(math.nan) == "\u2014"


def test_it_drops_the_leading_zero_only_for_bounded_statistics() -> None:
    assert fmt_r(0.434) == ".43"
    assert fmt_r(-0.071) == "\u2212.07"
    assert fmt_num(1.234) == "1.23"
    assert fmt_num(-0.001) == "0.00"
    assert fmt_int(1234.0) == "1,234"


def test_it_formats_intervals() -> None:
    assert fmt_ci(0.1, 0.52, bounded=True) == "[.10, .52]"
    assert fmt_ci(-1.5, 2.25, digits=1) == "[\u22121.5, 2.2]"

"""The analysis plan's runner, for the packages built on it (``crosscultural`` runs it per site, ``report``
renders its results): :func:`run_plan` and its results."""

from lacrima.analysis._runner import HypothesisResult, PlanResults, run_plan

__all__ = ["HypothesisResult", "PlanResults", "run_plan"]

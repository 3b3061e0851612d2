"""Synthetic studies with planted effects: multi-site surveys and session-by-session therapy data.

The simulated data follow the shared data contract (respondent and session tables with instrument item
columns) so that every other part of lacrima can be demonstrated and tested on them, and their
``truth`` says what an analysis should recover.
"""

from lacrima.simulate._effects import DEFAULT_CORRELATIONS, DEFAULT_LOCATION, LATENT_NAMES, StudyEffects
from lacrima.simulate._plant import PlantedEvents
from lacrima.simulate._power import PowerCurve, power_by_simulation
from lacrima.simulate._sessions import SessionEffects, SimulatedSessions, simulate_sessions
from lacrima.simulate._sites import Site, default_sites
from lacrima.simulate._study import SimulatedStudy, simulate_study

__all__ = [
    "DEFAULT_CORRELATIONS",
    "DEFAULT_LOCATION",
    "LATENT_NAMES",
    "PlantedEvents",
    "PowerCurve",
    "SessionEffects",
    "SimulatedSessions",
    "SimulatedStudy",
    "Site",
    "StudyEffects",
    "default_sites",
    "power_by_simulation",
    "simulate_sessions",
    "simulate_study",
]

"""
The typed plan: per desired state, what this run will do and why, built from the run's cached
facts (:mod:`tasks.plan.build`) as frozen dataclasses (:mod:`tasks.plan.model`). Every state asks
the plan, never another state.
"""

from tasks.plan.build import Planner
from tasks.plan.model import (
    CopyPart,
    HerokuPart,
    MigrationsPart,
    Plan,
    Problem,
    RiskFinding,
    RiskPart,
    SeedPart,
    SeedTable,
    TargetPart,
)

__all__ = [
    "CopyPart",
    "HerokuPart",
    "MigrationsPart",
    "Plan",
    "Planner",
    "Problem",
    "RiskFinding",
    "RiskPart",
    "SeedPart",
    "SeedTable",
    "TargetPart",
]

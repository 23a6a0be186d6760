"""Demo material: synthetic enterprises and residents, and policies modelled on real clauses."""

from importlib import resources
from pathlib import Path

from zhixiang.demo._generate import generate_enterprises, iter_enterprises
from zhixiang.demo._residents import (
    Residents,
    generate_residents,
    iter_residents,
    low_income_standard,
    tianhe_streets,
)


def demo_policies_dir() -> Path:
    """The folder of bundled demo policies (one YAML file each)."""
    return Path(str(resources.files(__package__).joinpath("policies")))


def resident_policies_dir() -> Path:
    """The folder of real Guangzhou resident policies (households and persons)."""
    return demo_policies_dir() / "residents"


__all__ = [
    "Residents",
    "demo_policies_dir",
    "generate_enterprises",
    "generate_residents",
    "iter_enterprises",
    "iter_residents",
    "low_income_standard",
    "resident_policies_dir",
    "tianhe_streets",
]

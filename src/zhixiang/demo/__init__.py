"""Demo material: synthetic enterprises and policies modelled on real enterprise-support clauses."""

from importlib import resources
from pathlib import Path

from zhixiang.demo._generate import generate_enterprises, iter_enterprises


def demo_policies_dir() -> Path:
    """The folder of bundled demo policies (one YAML file each)."""
    return Path(str(resources.files(__package__).joinpath("policies")))


def resident_policies_dir() -> Path:
    """The folder of real Guangzhou resident policies (households and persons)."""
    return demo_policies_dir() / "residents"


__all__ = ["demo_policies_dir", "generate_enterprises", "iter_enterprises", "resident_policies_dir"]

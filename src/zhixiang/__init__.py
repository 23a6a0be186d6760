"""智享 Zhixiang: proactive digital government services."""

__version__ = "0.1.0"

__all__ = ["__version__"]

"""Tracklet: experiment tracking that speaks MLflow's protocol."""

from tracklet._version import __version__

__all__ = ["__version__"]

"""Input pipelines (grain), tfds builders for manually downloaded datasets, synthetic data."""

from jaxvis.data.pipeline import ArraySource, loader, process_slice

__all__ = ["ArraySource", "loader", "process_slice"]

"""Real-time image saliency for black-box classifiers (Dabkowski & Gal, NIPS 2017)."""

from jaxvis.saliency.explainer import MaskingParams, explain, load, save
from jaxvis.saliency.model import MaskingConfig, MaskingModel
from jaxvis.saliency.objective import EvidenceRemoval, ObjectiveConfig, saliency_objective

__all__ = ["MaskingParams", "explain", "load", "save", "MaskingConfig", "MaskingModel",
           "EvidenceRemoval", "ObjectiveConfig", "saliency_objective"]

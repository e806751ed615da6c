"""Real-time image saliency for black-box classifiers (Dabkowski & Gal, NIPS 2017).

Public API: the masking model (`MaskingConfig`, `explain`, `load`/`save`), its training
(`TrainConfig`, `train_masking_model`, `train_classifier`), any Flax classifier as black box and
encoder (`FlaxClassifier`), the objective, and the comparison methods (`methods`: maps in [0, 1];
`attribution`: raw PAIR-compatible attributions; `xrai`: XRAI's segments and region ranking).
"""

from jaxvis.saliency import attribution, methods, xrai
from jaxvis.saliency.adapter import FlaxClassifier
from jaxvis.saliency.explainer import MaskingParams, explain, load, save
from jaxvis.saliency.model import MaskingConfig, MaskingModel
from jaxvis.saliency.objective import EvidenceRemoval, ObjectiveConfig, saliency_objective
from jaxvis.saliency.train import TrainConfig, train_classifier, train_masking_model

__all__ = ["MaskingParams", "explain", "load", "save", "MaskingConfig", "MaskingModel",
           "EvidenceRemoval", "ObjectiveConfig", "saliency_objective", "FlaxClassifier",
           "TrainConfig", "train_classifier", "train_masking_model", "attribution", "methods", "xrai"]

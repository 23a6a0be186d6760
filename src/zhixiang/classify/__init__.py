"""Complaint classification (智能分拨): predict a message's 一级分类 with a calibrated confidence.

The ticket service imports `load_model` and calls `predict`; `train_model` retrains on any labelled
messages (the shared taidi2020 set or the store's own handled tickets).
"""

from zhixiang.classify._data import (
    CONFIDENCE,
    PREDICTED,
    MessageFileError,
    default_training_data,
    read_messages,
)
from zhixiang.classify._model import SHIPPED_MODEL, Classifier, Prediction, load_model, train_model

__all__ = [
    "CONFIDENCE",
    "PREDICTED",
    "SHIPPED_MODEL",
    "Classifier",
    "MessageFileError",
    "Prediction",
    "default_training_data",
    "load_model",
    "read_messages",
    "train_model",
]

"""Complaint classification (智能分拨): predict a message's 一级分类 with a calibrated confidence,
deeper category levels and the handling unit (承办单位) where labels exist.

The ticket service imports `load_model` and calls `predict`; `train_model` retrains on any labelled
messages (the shared taidi2020 sets or the store's own handled tickets); `training_corpus` joins the
labelled and segmented sets without duplicates; `predict_levels` and `train_router` serve 12345
work orders with three-level categories and handling units.
"""

from zhixiang.classify._data import (
    CONFIDENCE,
    PREDICTED,
    Corpus,
    MessageFileError,
    default_training_data,
    read_messages,
    training_corpus,
)
from zhixiang.classify._evaluation import cross_validate, format_scores
from zhixiang.classify._model import SHIPPED_MODEL, Classifier, Prediction, load_model, train_model
from zhixiang.classify._workorders import (
    Route,
    Router,
    WorkOrders,
    fold_rare_paths,
    predict_levels,
    read_work_orders,
    train_router,
)

__all__ = [
    "CONFIDENCE",
    "PREDICTED",
    "SHIPPED_MODEL",
    "Classifier",
    "Corpus",
    "MessageFileError",
    "Prediction",
    "Route",
    "Router",
    "WorkOrders",
    "cross_validate",
    "default_training_data",
    "fold_rare_paths",
    "format_scores",
    "load_model",
    "predict_levels",
    "read_messages",
    "read_work_orders",
    "train_model",
    "train_router",
    "training_corpus",
]

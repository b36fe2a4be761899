"""Heads: sklearn-compatible, logits-first classifiers on frozen embeddings."""

from ._attentive import AttentiveProbeHead
from ._auto import AutoHead
from ._base import BaseHead
from ._centroid import NCMHead
from ._dho import DHOHead
from ._fourier import FourierHead
from ._io import load_head, save_head
from ._knn import KNNHead
from ._lda import LDAHead
from ._logistic import LogisticHead
from ._logit_adjust import LogitAdjustedHead
from ._mlbase import MultiLabelHead
from ._mlknn import MultiLabelKNNHead
from ._mllogistic import MultiLabelLogisticHead
from ._mlp import MLPHead
from ._mlridge import MultiLabelRidgeHead
from ._mltargets import multilabel_targets
from ._moment import MomentProbeHead
from ._nb import GaussianNBHead
from ._registry import (
    get_head,
    get_head_class,
    is_multilabel_head,
    is_token_head,
    list_heads,
    register_head,
)
from ._ridge import RidgeHead
from ._rpridge import RandomProjectionRidgeHead
from ._stats import SufficientStats
from ._stats_head import StatsHead
from ._streaming import fit_streaming, iter_labelled_chunks, stream_stats
from ._svm import LinearSVMHead
from ._tokens import from_padded
from ._transductive import TransductiveHead
from ._zeroshot import BlendHead, ZeroShotHead

__all__ = [
    "AttentiveProbeHead",
    "AutoHead",
    "BaseHead",
    "BlendHead",
    "DHOHead",
    "FourierHead",
    "GaussianNBHead",
    "KNNHead",
    "LDAHead",
    "LinearSVMHead",
    "LogisticHead",
    "LogitAdjustedHead",
    "MLPHead",
    "MomentProbeHead",
    "MultiLabelHead",
    "MultiLabelKNNHead",
    "MultiLabelLogisticHead",
    "MultiLabelRidgeHead",
    "NCMHead",
    "RandomProjectionRidgeHead",
    "RidgeHead",
    "StatsHead",
    "SufficientStats",
    "TransductiveHead",
    "ZeroShotHead",
    "fit_streaming",
    "from_padded",
    "is_multilabel_head",
    "is_token_head",
    "get_head",
    "get_head_class",
    "iter_labelled_chunks",
    "list_heads",
    "load_head",
    "multilabel_targets",
    "register_head",
    "save_head",
    "stream_stats",
]

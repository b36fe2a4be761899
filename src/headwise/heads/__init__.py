"""Heads: sklearn-compatible, logits-first classifiers on frozen embeddings.

Every built-in head module is imported below, which registers it (``@register_head``); a new
head module is added to these imports.
"""

from ._attentive import AttentiveProbeHead
from ._auto import AutoHead
from ._base import BaseHead
from ._centroid import NCMHead
from ._describe import chosen_settings
from ._dho import DHOHead
from ._fourier import FourierHead
from ._gzsl import SeenUnseenGate, calibrated_stacking, cosmo_combine
from ._io import (
    atomic_save_safetensors,
    check_encoder_key,
    describe_encoder_key,
    load_head,
    load_head_extras,
    read_safetensors,
    save_head,
    saved_head_name,
)
from ._knn import KNNHead
from ._lda import LDAHead, shrink
from ._logistic import LogisticHead
from ._logit_adjust import LogitAdjustedHead
from ._mlbase import MultiLabelHead, random_holdout
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
    name_of_head,
    register_head,
)
from ._ridge import RidgeHead
from ._rpridge import RandomProjectionRidgeHead
from ._stats import SufficientStats
from ._stats_head import StatsHead, safe_class_means
from ._stats_io import load_stats, save_stats
from ._streaming import fit_streaming, iter_labelled_chunks, stream_stats
from ._svm import LinearSVMHead
from ._tokens import from_padded
from ._transductive import TransductiveHead
from ._zeroshot import TEXT_TEMPLATES, BlendHead, ZeroShotHead

__all__ = [
    "TEXT_TEMPLATES",
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
    "SeenUnseenGate",
    "ZeroShotHead",
    "calibrated_stacking",
    "cosmo_combine",
    "atomic_save_safetensors",
    "check_encoder_key",
    "chosen_settings",
    "describe_encoder_key",
    "fit_streaming",
    "from_padded",
    "is_multilabel_head",
    "is_token_head",
    "get_head",
    "get_head_class",
    "iter_labelled_chunks",
    "list_heads",
    "load_head",
    "load_head_extras",
    "load_stats",
    "multilabel_targets",
    "name_of_head",
    "random_holdout",
    "register_head",
    "safe_class_means",
    "read_safetensors",
    "save_head",
    "save_stats",
    "saved_head_name",
    "shrink",
    "stream_stats",
]

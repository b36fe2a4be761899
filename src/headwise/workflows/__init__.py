"""Workflows: one library path from a table to a result, shared by the CLI, the service and Ray.

Each function takes a loaded :class:`~headwise.datasets.Table` (see :func:`load_inputs`) and
settings, does one job end to end through the embedding cache, and returns a frozen result;
nothing here prints. The edges (``headwise.cli``, ``headwise.service``) parse, call one of these,
and render.

- :func:`embed_table`: embed every row through the cache.
- :func:`fit_head`: fit (and optionally calibrate) a head, save it.
- :func:`predict_table`: labels, probabilities, conformal sets, OOD flags; metrics when labelled.
- :func:`score_head`: accuracy of a saved head on a labelled split.
- :func:`evaluate`: run a registered protocol (:func:`list_protocols`).
- :func:`compare_table`: the quickstart leaderboard.
- :func:`sweep_sites`: which layer (or attention head) carries the labels, for any layered
  encoder (it dispatches to :func:`sweep_table` or :func:`probe_table`).
"""

from . import _protocol_runs  # noqa: F401  (registers the built-in protocols)
from ._calibrate import CALIB_SEED, check_calib_frac, fit_calibration, split_for_calibration
from ._compare import CompareResult, compare_table
from ._data import (
    default_split,
    encoder_options,
    indices_for,
    load_inputs,
    media_report,
    require_splits,
)
from ._embed import Embedded, StoreBackedEncoder, embed_table, embed_texts, resolve_encoder_params
from ._evaluate import (
    EvalRequest,
    EvalResult,
    MeanCI,
    evaluate,
    get_protocol,
    list_protocols,
    register_protocol,
)
from ._fit import FitResult, fit_head
from ._layers import LayerSweep, probe_table, sweep_sites, sweep_table
from ._mlrun import multilabel_run_summary, write_multilabel_run
from ._multilabel import (
    MultiLabelFit,
    evaluate_multilabel,
    fit_multilabel,
    fit_multilabel_table,
    load_multilabel_calibration,
    predict_multilabel,
    save_multilabel_head,
)
from ._overlap import Overlap, check_overlap
from ._predict import (
    PredictResult,
    ScoreResult,
    check_predict_options,
    head_encoder,
    load_head_for,
    predict_table,
    score_head,
)

__all__ = [
    "MultiLabelFit",
    "evaluate_multilabel",
    "fit_multilabel",
    "fit_multilabel_table",
    "load_multilabel_calibration",
    "multilabel_run_summary",
    "predict_multilabel",
    "save_multilabel_head",
    "write_multilabel_run",
    "CALIB_SEED",
    "CompareResult",
    "Embedded",
    "EvalRequest",
    "EvalResult",
    "FitResult",
    "LayerSweep",
    "MeanCI",
    "Overlap",
    "PredictResult",
    "ScoreResult",
    "StoreBackedEncoder",
    "check_calib_frac",
    "check_overlap",
    "check_predict_options",
    "compare_table",
    "default_split",
    "embed_table",
    "embed_texts",
    "encoder_options",
    "evaluate",
    "fit_calibration",
    "fit_head",
    "get_protocol",
    "head_encoder",
    "indices_for",
    "list_protocols",
    "load_head_for",
    "load_inputs",
    "media_report",
    "predict_table",
    "probe_table",
    "register_protocol",
    "require_splits",
    "resolve_encoder_params",
    "score_head",
    "split_for_calibration",
    "sweep_sites",
    "sweep_table",
]

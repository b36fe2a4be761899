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

Names are imported on first use (PEP 562), so that ``from headwise.workflows import
encoder_options`` at a command-line entry point does not load every head, protocol and
sklearn with it: the CLI's start (``headwise --help``) pays only for what a command runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and editors
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
    from ._embed import (
        Embedded,
        StoreBackedEncoder,
        embed_table,
        embed_texts,
        resolve_encoder_params,
    )
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

# name -> the submodule that defines it
_HOMES: dict[str, str] = {
    "CALIB_SEED": "_calibrate",
    "check_calib_frac": "_calibrate",
    "fit_calibration": "_calibrate",
    "split_for_calibration": "_calibrate",
    "CompareResult": "_compare",
    "compare_table": "_compare",
    "default_split": "_data",
    "encoder_options": "_data",
    "indices_for": "_data",
    "load_inputs": "_data",
    "media_report": "_data",
    "require_splits": "_data",
    "Embedded": "_embed",
    "StoreBackedEncoder": "_embed",
    "embed_table": "_embed",
    "embed_texts": "_embed",
    "resolve_encoder_params": "_embed",
    "EvalRequest": "_evaluate",
    "EvalResult": "_evaluate",
    "MeanCI": "_evaluate",
    "evaluate": "_evaluate",
    "get_protocol": "_evaluate",
    "list_protocols": "_evaluate",
    "register_protocol": "_evaluate",
    "FitResult": "_fit",
    "fit_head": "_fit",
    "LayerSweep": "_layers",
    "probe_table": "_layers",
    "sweep_sites": "_layers",
    "sweep_table": "_layers",
    "multilabel_run_summary": "_mlrun",
    "write_multilabel_run": "_mlrun",
    "MultiLabelFit": "_multilabel",
    "evaluate_multilabel": "_multilabel",
    "fit_multilabel": "_multilabel",
    "fit_multilabel_table": "_multilabel",
    "load_multilabel_calibration": "_multilabel",
    "predict_multilabel": "_multilabel",
    "save_multilabel_head": "_multilabel",
    "Overlap": "_overlap",
    "check_overlap": "_overlap",
    "PredictResult": "_predict",
    "ScoreResult": "_predict",
    "check_predict_options": "_predict",
    "head_encoder": "_predict",
    "load_head_for": "_predict",
    "predict_table": "_predict",
    "score_head": "_predict",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if home == "_evaluate":  # the protocol registry: with the built-in protocols in it
        importlib.import_module(f"{__name__}._protocol_runs")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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

"""Evaluation protocols: pure functions over cached embeddings returning frozen results.

Each records exactly what ran (encoder key, data hash, seeds, head parameters) in ``.record``.
"""

from ._active_results import ActiveCurve, ActiveResult, area_under_curve
from ._common import MAX_SEEDS, LeakageError, resolve_heads
from ._results import (
    FewShotCurve,
    FewShotResult,
    IncrementalCurve,
    IncrementalResult,
    LinearHeadResult,
    LinearResult,
    MTEBResult,
    RunRecord,
    Summary,
    ZeroShotResult,
    summarize,
    write_json_atomic,
)
from .active import DEFAULT_STRATEGIES, active_eval
from .class_incremental import class_incremental_eval, forgetting, split_tasks
from .few_shot import (
    few_shot_eval,
    mteb_eval,
    mteb_samples_per_label,
    mteb_undersample,
    sample_per_class,
)
from .gzsl import GZSLResult, gzsl_eval
from .layer_sweep import (
    SweepResult,
    embed_layers,
    layer_sweep_eval,
    layer_sweep_json,
    plot_sweep,
    resolve_layers,
)
from .linear import DEFAULT_GRIDS, find_leakage, linear_eval
from .long_tail import LongTailResult, long_tail_eval, long_tail_indices
from .transductive import transductive_eval
from .zero_shot import zero_shot_eval

__all__ = [
    "resolve_heads",
    "ActiveCurve",
    "ActiveResult",
    "DEFAULT_GRIDS",
    "DEFAULT_STRATEGIES",
    "MAX_SEEDS",
    "FewShotCurve",
    "FewShotResult",
    "GZSLResult",
    "IncrementalCurve",
    "IncrementalResult",
    "LeakageError",
    "LinearHeadResult",
    "LinearResult",
    "LongTailResult",
    "MTEBResult",
    "RunRecord",
    "Summary",
    "SweepResult",
    "ZeroShotResult",
    "active_eval",
    "area_under_curve",
    "class_incremental_eval",
    "embed_layers",
    "few_shot_eval",
    "find_leakage",
    "forgetting",
    "gzsl_eval",
    "layer_sweep_eval",
    "layer_sweep_json",
    "linear_eval",
    "long_tail_eval",
    "long_tail_indices",
    "mteb_eval",
    "mteb_samples_per_label",
    "mteb_undersample",
    "plot_sweep",
    "resolve_layers",
    "sample_per_class",
    "split_tasks",
    "summarize",
    "transductive_eval",
    "write_json_atomic",
    "zero_shot_eval",
]

"""Trust: calibration metrics, temperature scaling, conformal prediction sets and OOD scores."""

from ._calibration import TemperatureScaler, temperature_nll
from ._conformal import ConformalClassifier, head_digest, set_coverage
from ._metrics import (
    CalibrationMetrics,
    brier_score,
    calibration_metrics,
    classwise_ece,
    expected_calibration_error,
    macro_f1,
    negative_log_likelihood,
    reliability_bins,
)
from ._mlconformal import (
    MULTILABEL_METHODS,
    MultiLabelConformal,
    crc_fnr_threshold,
    label_lac_thresholds,
)
from ._mlmetrics import MultiLabelMetrics, false_negative_rate, multilabel_metrics
from ._ood import OOD_METHODS, OODDetector, logit_ood_scores, ood_auroc, ood_scores
from ._saved import TrustCalibration, load_calibrated_head, read_calibration, save_calibrated_head
from ._scores import METHODS, check_alpha, conformal_quantile, nonconformity_scores
from ._summary import ALPHA_GRID, trust_summary, write_json, write_trust_run

__all__ = [
    "ALPHA_GRID",
    "METHODS",
    "MULTILABEL_METHODS",
    "MultiLabelConformal",
    "MultiLabelMetrics",
    "OOD_METHODS",
    "CalibrationMetrics",
    "ConformalClassifier",
    "OODDetector",
    "TemperatureScaler",
    "TrustCalibration",
    "brier_score",
    "calibration_metrics",
    "check_alpha",
    "classwise_ece",
    "conformal_quantile",
    "crc_fnr_threshold",
    "false_negative_rate",
    "label_lac_thresholds",
    "multilabel_metrics",
    "expected_calibration_error",
    "head_digest",
    "load_calibrated_head",
    "macro_f1",
    "negative_log_likelihood",
    "nonconformity_scores",
    "read_calibration",
    "ood_auroc",
    "logit_ood_scores",
    "ood_scores",
    "reliability_bins",
    "save_calibrated_head",
    "set_coverage",
    "temperature_nll",
    "trust_summary",
    "write_json",
    "write_trust_run",
]

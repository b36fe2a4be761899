"""Import every built-in head module so each registers itself."""

from . import (  # noqa: F401
    _attentive,
    _auto,
    _centroid,
    _dho,
    _fourier,
    _knn,
    _lda,
    _logistic,
    _logit_adjust,
    _mlknn,
    _mllogistic,
    _mlp,
    _mlridge,
    _moment,
    _nb,
    _ridge,
    _rpridge,
    _svm,
    _transductive,
    _zeroshot,
)

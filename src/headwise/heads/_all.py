"""Import every built-in head module so each registers itself."""

from . import _auto, _centroid, _knn, _lda, _logistic, _nb, _ridge  # noqa: F401

"""Linear SVM head against sklearn's LinearSVC."""

from __future__ import annotations

import numpy as np
from sklearn.svm import LinearSVC

from headwise.heads import LinearSVMHead

from ._helpers import toy_blobs


def test_matches_linearsvc_multiclass_and_binary() -> None:
    X, y = toy_blobs()
    for yy in (y, (y > 0).astype(int)):
        head = LinearSVMHead(C=0.3).fit(X, yy)
        ref = LinearSVC(C=0.3, max_iter=2000, random_state=0).fit(X, yy)
        np.testing.assert_allclose(head.decision_function(X), ref.decision_function(X), atol=1e-10)
        np.testing.assert_array_equal(head.predict(X), ref.predict(X))


def test_C_chosen_on_holdout() -> None:
    X, y = toy_blobs(n_per_class=40)
    head = LinearSVMHead(Cs=(1e-4, 1.0)).fit(X, y)
    assert head.C_ == (1e-4, 1.0)[int(np.argmax(head.val_scores_))]
    assert np.isfinite(head.val_scores_).all()

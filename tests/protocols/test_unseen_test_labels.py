"""Every protocol refuses test labels that no training row has, as quickstart does: a head
cannot predict them, so the score would be capped without a word."""

from __future__ import annotations

import numpy as np
import pytest

from headwise.exceptions import InputError
from headwise.protocols import (
    active_eval,
    class_incremental_eval,
    few_shot_eval,
    linear_eval,
    long_tail_eval,
    mteb_eval,
    transductive_eval,
)

RUNS = {
    "linear": lambda *a: linear_eval(["ncm"], *a),
    "longtail": lambda *a: long_tail_eval(["ncm"], *a, imbalance=2.0, seeds=1),
    "fewshot": lambda *a: few_shot_eval(["ncm"], *a, shots=[1], seeds=1),
    "mteb": lambda *a: mteb_eval(*a, samples_per_label=2, n_experiments=1),
    "transductive": lambda *a: transductive_eval(["ncm"], *a, shots=[1], seeds=1),
    "incremental": lambda *a: class_incremental_eval(["ncm"], *a, n_tasks=2),
    "active": lambda *a: active_eval("ncm", *a, strategies=["random"], rounds=1, seeds=1),
}


def _data(test_labels):
    rng = np.random.default_rng(0)
    y = np.repeat(np.array(["a", "b", "c", "d"]), 6)
    X = rng.normal(size=(y.size, 5)) + (np.arange(y.size) % 4)[:, None]
    yt = np.array(test_labels)
    return X, y, rng.normal(size=(yt.size, 5)), yt


@pytest.mark.parametrize("protocol", sorted(RUNS))
def test_a_test_label_missing_from_train_is_refused(protocol):
    X, y, Xt, yt = _data(["a", "b", "zebra", "c"])
    with pytest.raises(InputError, match=r"1 test label\(s\) never appear in train \(e.g. 'zebra'\)"):
        RUNS[protocol](X, y, Xt, yt)


@pytest.mark.parametrize("protocol", sorted(RUNS))
def test_a_test_split_with_fewer_classes_is_fine(protocol):
    X, y, Xt, yt = _data(["a", "a", "b", "b"])
    RUNS[protocol](X, y, Xt, yt)

"""Messages name labels as the user wrote them: 'money', never numpy's np.str_('money')."""

from __future__ import annotations

import numpy as np
import pytest

from headwise.exceptions import InputError

rng = np.random.default_rng(0)
X = rng.normal(size=(12, 4))
y = np.array(["money", "sport", "weather"] * 4)


def _one_class():
    from headwise.heads import get_head

    get_head("lda").fit(X, np.array(["money"] * 12))


def _unseen_test_label():
    from headwise.compare import compare_heads

    compare_heads(X, y, X[:3], np.array(["money", "sport", "travel"]), heads=("ncm",), baseline=False)


def _conformal_unknown_label():
    from headwise.heads import get_head
    from headwise.trust import ConformalClassifier

    head = get_head("ncm").fit(X[:8], y[:8])
    ConformalClassifier(head).calibrate(X, np.array(["travel"] * 12))


def _too_many_shots():
    from headwise.protocols import few_shot_eval

    few_shot_eval("ncm", X, y, X, y, shots=[5], seeds=1)


@pytest.mark.parametrize("call", [_one_class, _unseen_test_label, _conformal_unknown_label, _too_many_shots])
def test_labels_are_named_plainly(call):
    with pytest.raises(InputError) as info:
        call()
    said = str(info.value)
    assert "np.str_" not in said and "np.int" not in said
    assert "'money'" in said or "'travel'" in said, said

from __future__ import annotations

import numpy as np

from headwise.heads import NCMHead, TransductiveHead, load_head, save_head
from headwise.protocols import transductive_eval


def _clustered(seed: int = 0):
    """Tight clusters; the one labelled row per class sits on the cluster's far edge."""
    rng = np.random.default_rng(seed)
    C, d = 5, 16
    centers = rng.normal(size=(C, d)) * 1.2
    yq = np.repeat(np.arange(C), 40)
    Xq = centers[yq] + 0.35 * rng.normal(size=(yq.size, d))
    # support row: the centre pushed toward a neighbouring class
    Xs = centers + 0.45 * (centers[np.roll(np.arange(C), 1)] - centers)
    return Xs, np.arange(C), Xq, yq


def test_transductive_improves_on_clustered_toy_case():
    Xs, ys, Xq, yq = _clustered()
    base = NCMHead().fit(Xs, ys)
    trans = TransductiveHead(base="ncm").fit(Xs, ys)
    acc_base = np.mean(base.predict(Xq) == yq)
    acc_trans = np.mean(trans.predict(Xq) == yq)
    assert acc_trans > acc_base + 0.1
    assert acc_trans > 0.95


def test_zero_iterations_is_the_base_head():
    Xs, ys, Xq, _ = _clustered()
    base = NCMHead().fit(Xs, ys)
    trans = TransductiveHead(base=NCMHead(), n_iter=0).fit(Xs, ys)
    np.testing.assert_array_equal(trans.predict(Xq), base.predict(Xq))


def test_save_load_round_trip(tmp_path):
    Xs, ys, Xq, _ = _clustered()
    head = TransductiveHead(base="lda").fit(Xs, ys)
    loaded = load_head(save_head(head, tmp_path / "t.safetensors"))
    np.testing.assert_allclose(loaded.logits(Xq), head.logits(Xq))


def test_transductive_protocol_reports_both():
    Xs, ys, Xq, yq = _clustered()
    Xtr = np.r_[Xq[::2], Xs]
    ytr = np.r_[yq[::2], ys]
    res = transductive_eval("ncm", Xtr, ytr, Xq[1::2], yq[1::2], shots=[1], seeds=3)
    assert set(res.heads) == {"ncm", "ncm+transductive"}
    assert res.heads["ncm+transductive"].mean[0] >= res.heads["ncm"].mean[0]

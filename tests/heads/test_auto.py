"""AutoHead: settings and heads chosen on leave-one-out / out-of-fold evidence, stacking,
never far below the best single head, save/load of the ensemble, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import log_softmax

from headwise.exceptions import InputError, UnknownHeadError
from headwise.heads import get_head, load_head, save_head
from headwise.heads._auto import AutoHead
from headwise.heads._ensemble import fit_temperature, mix_log_proba, stacking_weights
from headwise.heads._loo import loo_lda_logits

from ._helpers import toy_blobs

FAST = {"logistic": {"C": 1.0}}


def _anisotropic(n=300, seed=0):
    """Classes that differ along a low-variance direction: LDA beats nearest class mean."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, 5)) * np.array([8.0, 8.0, 8.0, 0.3, 0.3])
    X[:, 3] += 1.5 * y
    return X + 4.0, y


def _gaussian(n_per_class, k=6, d=40, seed=0, n_test=600):
    """Class means in a random low-dimensional subspace, correlated anisotropic noise."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, d)) * np.exp(rng.uniform(-1.5, 1.0, d))
    means = rng.normal(size=(k, d)) @ A * 0.35
    y = np.repeat(np.arange(k), n_per_class)
    yt = rng.integers(0, k, n_test)
    draw = lambda lab: means[lab] + rng.normal(size=(lab.size, d)) @ A  # noqa: E731
    return draw(y), y, draw(yt), yt


def test_registered():
    assert isinstance(get_head("auto"), AutoHead)


def test_chooses_lda_where_it_is_right_and_refits_members_on_all_rows():
    X, y = _anisotropic()
    head = AutoHead(candidates=("ncm", "lda"), combine="select").fit(X, y)
    assert set(head.scores_) == {"ncm", "lda"}
    assert head.log_losses_["lda"] < head.log_losses_["ncm"]
    assert head.members_ == ["lda"] and head.best_name_ == "lda"
    # the chosen shrinkage is the grid point with the lowest leave-one-out log-loss
    a = head.params_["lda"]["shrinkage"]
    lda = get_head("lda", shrinkage=a).fit(X, y)
    np.testing.assert_allclose(head.predict_proba(X).argmax(1), lda.predict_proba(X).argmax(1))
    z = loo_lda_logits(X, y, 3, (a,))[0]
    T = head.temperatures_[0]
    ll = -np.mean(log_softmax(T * z, axis=1)[np.arange(y.size), y])
    assert head.log_losses_["lda"] == pytest.approx(ll, rel=1e-9)


def test_stack_logits_are_the_weighted_mixture_of_calibrated_members():
    X, y = _anisotropic()
    head = AutoHead(candidates=("ncm", "lda", "ridge"), evidence=0.0).fit(X, y)
    assert head.weights_.sum() == pytest.approx(1.0)
    parts = [
        log_softmax(T * h.logits(X), axis=1)
        for h, T in zip(head.estimators_, head.temperatures_, strict=True)
    ]
    np.testing.assert_allclose(head.logits(X), mix_log_proba(parts, head.weights_))
    assert head.stack_log_loss_ <= min(head.log_losses_.values()) + 1e-9


@pytest.mark.parametrize("n_per_class", [8, 30, 150])
@pytest.mark.parametrize("seed", [0, 1])
def test_never_far_below_the_best_single_head(n_per_class, seed):
    X, y, Xt, yt = _gaussian(n_per_class, seed=seed)
    names = ("ncm", "lda", "ridge", "knn", "logistic")
    singles = {n: np.mean(get_head(n).fit(X, y).predict(Xt) == yt) for n in names}
    auto = np.mean(AutoHead(candidates=names).fit(X, y).predict(Xt) == yt)
    best = max(singles.values())
    noise = 2 * np.sqrt(best * (1 - best) / yt.size)  # two binomial standard errors
    assert auto >= best - noise, (auto, singles)


def test_every_row_is_evaluated_when_logistic_uses_kfold():
    X, y, _, _ = _gaussian(8)
    head = AutoHead(candidates=("lda", "logistic")).fit(X, y)
    assert head.n_eval_rows_ == y.size
    big = _gaussian(250)
    head = AutoHead(candidates=("lda", "logistic")).fit(big[0], big[1])
    assert head.n_eval_rows_ == int(np.ceil(0.1 * big[1].size))  # the logistic holdout


def test_stacking_weights_maximise_the_out_of_sample_likelihood():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 3, 200)
    lps = [log_softmax(rng.normal(size=(200, 3)) + 2.0 * np.eye(3)[codes] * s, axis=1)
           for s in (1.0, 0.5, 0.0)]
    w = stacking_weights(lps, codes)
    ll = np.mean(mix_log_proba(lps, w)[np.arange(200), codes])
    for trial in rng.dirichlet(np.ones(3), 200):
        assert ll >= np.mean(mix_log_proba(lps, trial)[np.arange(200), codes]) - 1e-9


def test_temperature_minimises_the_log_loss():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, 300)
    z = rng.normal(size=(300, 4)) + np.eye(4)[codes]
    T = fit_temperature(z, codes)
    loss = lambda t: -np.mean(log_softmax(t * z, axis=1)[np.arange(300), codes])  # noqa: E731
    assert loss(T) <= min(loss(T * 0.9), loss(T * 1.1)) + 1e-9
    # safeguarded Newton: the same optimum from any start, and the bounds when it lies beyond
    for start in (1e-3, 0.5, 30.0):
        assert fit_temperature(z, codes, start) == pytest.approx(T, rel=2e-3)
    assert fit_temperature(-z * 1e3, codes) == pytest.approx(np.exp(-9.0), rel=2e-3)


def test_temperature_over_row_blocks_equals_one_block(monkeypatch):
    # C search scores large holdouts block by block: same T and per-row losses, any dtype
    from headwise.heads import _ensemble

    rng = np.random.default_rng(1)
    codes = rng.integers(0, 5, 257)
    z = (rng.normal(size=(257, 5)) * 3 + np.eye(5)[codes]).astype(np.float32)
    z[:, 4] = -np.inf  # a class never predicted stays negligible
    T = fit_temperature(z.astype(np.float64), codes)
    losses = _ensemble.temperature_row_losses(z.astype(np.float64), codes, T)
    monkeypatch.setattr(_ensemble, "_BLOCK", 7 * 5)  # 7 rows per block, a ragged last one
    assert fit_temperature(z, codes) == pytest.approx(T, rel=1e-12)
    np.testing.assert_allclose(_ensemble.temperature_row_losses(z, codes, T), losses, rtol=1e-12)
    ref = -log_softmax(T * z.astype(np.float64), axis=1)[np.arange(257), codes]
    np.testing.assert_allclose(losses, ref, rtol=1e-12)


def test_thin_evidence_keeps_the_default_head():
    X, y, _, _ = _gaussian(3, k=2, d=30)  # 6 rows: nothing is reliably better than LDA
    head = AutoHead(candidates=("ncm", "lda", "knn")).fit(X, y)
    assert head.members_ == ["lda"] and head.evidence_ <= 2.0
    np.testing.assert_allclose(head.predict_proba(X).argmax(1),
                               get_head("lda", **head.params_["lda"]).fit(X, y).predict(X))


def test_strong_evidence_leaves_the_default_head():
    X, y = _anisotropic()  # LDA is far better than nearest class mean on 300 rows
    head = AutoHead(candidates=("ncm", "lda"), default="ncm").fit(X, y)
    assert head.evidence_ > 2.0 and "lda" in head.members_
    assert head.stack_log_loss_ < head.log_losses_["ncm"]


def test_one_row_per_class_uses_the_default():
    X, y = toy_blobs(n_per_class=1)
    head = AutoHead(candidates=("ncm", "lda")).fit(X, y)
    assert head.members_ == ["lda"]
    assert all(np.isnan(s) for s in head.scores_.values())
    np.testing.assert_array_equal(head.predict(X), y)


def test_other_heads_are_scored_by_kfold_refits():
    X, y = _anisotropic(n=120)
    head = AutoHead(candidates=("nb", "lda"), candidate_params={"lda": {"priors": "uniform"}})
    head.fit(X, y)
    assert set(head.log_losses_) == {"nb", "lda"} and np.isfinite(list(head.log_losses_.values())).all()


def test_two_rows_per_class_fit_and_every_evidence_is_finite():
    # the 3-fold splits leave one training row per class: LDA's held-out path had divided by
    # the zero within-class spread, and the NaN evidence crashed the stack
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 2)
    X = rng.normal(size=(6, 32)) + 3.0 * rng.normal(size=(3, 32))[y]
    head = AutoHead().fit(X, y)
    assert np.isfinite(list(head.log_losses_.values())).all()
    assert np.isfinite(head.logits(X)).all()


def test_rounding_noise_is_no_evidence():
    # labels unrelated to the rows: every head's held-out probabilities go uniform, and the
    # stack's "gain" over logistic was rounding noise at 2.3 of its own SEs
    rng = np.random.default_rng(0)
    for shape in [(3, 8), (6, 8), (6, 8), (9, 8), (40, 8), (40, 8)]:
        X = rng.normal(size=shape)
    y = np.repeat(np.arange(2), 20)
    head = AutoHead().fit(X, y)
    assert max(head.log_losses_.values()) - min(head.log_losses_.values()) < 1e-4
    assert head.members_ == ["logistic"] and head.evidence_ == 0.0


@pytest.mark.parametrize("labels", [None, np.array(["x", "y", "z"])])
def test_save_load_round_trip(tmp_path, labels):
    X, y = _anisotropic()
    yy = y if labels is None else labels[y]
    head = AutoHead(candidates=("ncm", "lda", "ridge", "knn", "logistic")).fit(X, yy)
    assert len(head.members_) >= 1
    loaded = load_head(save_head(head, tmp_path / "auto.safetensors"))
    assert type(loaded) is AutoHead
    assert loaded.members_ == head.members_ and loaded.best_name_ == head.best_name_
    assert [type(e) for e in loaded.estimators_] == [type(e) for e in head.estimators_]
    np.testing.assert_array_equal(loaded.weights_, head.weights_)
    assert loaded.params_ == head.params_
    np.testing.assert_array_equal(loaded.classes_, head.classes_)
    np.testing.assert_array_equal(loaded.logits(X), head.logits(X))
    np.testing.assert_array_equal(loaded.predict(X), head.predict(X))


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"candidates": ()}, InputError, "'candidates' parameter of AutoHead must be a non-empty"),
        ({"candidates": ("ncm", "nosuchhead")}, UnknownHeadError, "Unknown head 'nosuchhead'"),
        ({"candidates": ("auto",)}, InputError, "cannot be its own candidate"),
        ({"candidates": ("lda", "lda")}, InputError, "lists a head twice"),
        ({"combine": "vote"}, InputError, "'combine' parameter of AutoHead must be one of"),
        ({"max_eval_rows": 3}, InputError, "'max_eval_rows' parameter of AutoHead"),
        ({"evidence": -1.0}, InputError, "'evidence' parameter of AutoHead"),
        ({"candidate_params": {"knn": {}}, "candidates": ("lda",)}, InputError,
         "candidate_params names ['knn']"),
    ],
)
def test_bad_parameters_raise_at_fit(params, error, message):
    head = AutoHead(**params)
    with pytest.raises(error) as info:
        head.fit(*toy_blobs())
    assert message in str(info.value)


def test_bad_candidate_params_surface_the_candidates_error():
    with pytest.raises(InputError, match="'C' parameter of LogisticHead"):
        AutoHead(candidates=("logistic",), candidate_params={"logistic": {"C": -1}}).fit(
            *toy_blobs()
        )


@pytest.mark.parametrize(("alphas", "side"), [((1e6, 1e7), "below"), ((1e-9, 1e-8), "above")])
def test_ridge_alpha_search_widens_until_the_best_is_interior(alphas, side):
    from headwise.heads._selection import evaluate_candidate

    X, y = _anisotropic(n=200)
    rows = np.arange(y.size)
    out = evaluate_candidate("ridge", {"alphas": alphas}, X, y, 3, rows)
    grid = sorted(float(k.split("=")[1]) for k in out.grid)
    losses = [out.grid[f"alpha={a:.4g}"] for a in grid]
    best = int(np.argmin(losses))
    chosen = out.params["alphas"][0]
    assert chosen < min(alphas) if side == "below" else chosen > max(alphas)
    assert 0 < best < len(grid) - 1  # both neighbours of the optimum were scored, and lost



def test_few_rows_score_every_head_on_the_logistic_heads_own_splits():
    # k-fold (few rows): the statistics heads are refitted at their chosen setting on the
    # logistic head's splits, with its training sizes, and averaged over repeats the same way
    from headwise.heads._ensemble import mean_log_loss

    X, y, _, _ = _gaussian(8)
    head = AutoHead(candidates=("ncm", "logistic")).fit(X, y)
    logistic = head.estimators_[head.members_.index("logistic")] if "logistic" in head.members_ \
        else get_head("logistic").fit(X, y)
    splits = logistic.oof_splits_
    assert len(splits) > 3  # repeated 3-fold on 48 rows
    at, logits = [], []
    for tr, va in splits:
        at.append(va)
        logits.append(get_head("ncm").fit(X[tr], y[tr]).logits(X[va]))
    at, z = np.concatenate(at), np.concatenate(logits)
    T = fit_temperature(z, y[at])
    proba = np.zeros((y.size, 6))
    np.add.at(proba, at, np.exp(log_softmax(T * z, axis=1)))
    lp = np.log(proba / np.bincount(at, minlength=y.size)[:, None])
    T2 = fit_temperature(lp, y)
    assert head.log_losses_["ncm"] == pytest.approx(
        mean_log_loss(log_softmax(T2 * lp, axis=1), y), rel=1e-9)



@pytest.mark.parametrize("name", ["ncm", "lda", "ridge", "knn"])
def test_a_member_scored_on_splits_predicts_with_the_temperature_it_was_scored_at(name):
    # one repeat of 3 folds: every row is held out once, so the evidence is exactly the
    # split heads' softmax(T z) and the member's temperature must reproduce it on raw logits
    # (NCM's cosines need T >> 1; a temperature fitted to already-scaled log-probabilities
    # stays near 1 and leaves the member's predictive distribution nearly flat)
    from headwise.heads._cpath import stratified_folds
    from headwise.heads._selection import evaluate_candidate

    X, y, _, _ = _gaussian(10)
    fold = stratified_folds(y, 3, random_state=0)
    splits = [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(3)]
    rows = np.arange(y.size)
    e = evaluate_candidate(name, {}, X, y, 6, rows, splits=splits)
    for tr, va in splits:
        z = get_head(name, **e.params).fit(X[tr], y[tr]).logits(X[va])
        np.testing.assert_allclose(log_softmax(e.temperature * z, axis=1), e.log_proba[va],
                                   rtol=1e-6, atol=1e-6)


def test_on_splits_a_setting_is_chosen_on_the_splits():
    # LDA's shrinkage on the splits: the grid value whose split evidence is lowest, and the
    # reported log-loss is that of refits at it
    from headwise.heads._cpath import stratified_folds
    from headwise.heads._selection import SHRINKAGE_GRID, evaluate_candidate

    X, y, _, _ = _gaussian(12, d=30, seed=3)
    fold = stratified_folds(y, 3, random_state=1)
    splits = [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(3)]
    rows = np.arange(y.size)
    e = evaluate_candidate("lda", {}, X, y, 6, rows, splits=splits)

    def loss(a):
        z = np.zeros((y.size, 6))
        for tr, va in splits:
            z[va] = get_head("lda", shrinkage=a).fit(X[tr], y[tr]).logits(X[va])
        return -np.mean(log_softmax(fit_temperature(z, y) * z, axis=1)[rows, y])

    assert e.log_loss == pytest.approx(loss(e.params["shrinkage"]), rel=1e-6)
    assert e.log_loss <= min(loss(a) for a in SHRINKAGE_GRID) + 1e-9


def test_evidence_threshold_is_students_t_at_the_normal_level():
    from scipy import stats

    from headwise.heads._cpath import evidence_threshold

    for n in (30, 48, 5000):
        assert evidence_threshold(2.0, n) == pytest.approx(
            stats.t.ppf(stats.norm.cdf(2.0), n - 1), rel=1e-9)
    assert evidence_threshold(2.0, 30) > evidence_threshold(2.0, 48) > 2.0
    # under 30 rows no evidence leaves a default; no gate (0) stays no gate
    assert evidence_threshold(2.0, 29) == np.inf and evidence_threshold(2.0, 1) == np.inf
    assert evidence_threshold(0.0, 16) == 0.0


def test_sixteen_rows_keep_every_default():
    # 8 rows per class of two classes: however the held-out scores fall, the logistic head
    # stays at sklearn's default (C0, isotropic) and auto keeps it, with no gate overridden
    # (anisotropic features with the signal in two of them: with a t reading alone, seed 1
    # whitens at C = 3e4 C0 and auto takes ridge; seed 2 takes C = 3e4 C0)
    for seed in (1, 2):
        rng = np.random.default_rng(seed)
        y = np.repeat([0, 1], 8)
        scale = np.exp(rng.uniform(-2, 1, 20))
        X = rng.normal(size=(16, 20)) * scale + (1.0 if seed == 1 else 2.0) * y[:, None] * (
            np.arange(20) < 2)
        head = get_head("logistic").fit(X, y)
        assert head.C_ == head.C0_ and head.preprocess_ == "isotropic"
        auto = AutoHead().fit(X, y)
        assert auto.members_ == ["logistic"]
        # kept as it is: no temperature fitted on the 16 rows either (it had raised SST-2's
        # 8-shot test log-loss from 0.674 to 0.684)
        assert auto.temperatures_.tolist() == [1.0]
        np.testing.assert_allclose(auto.predict_proba(X), head.predict_proba(X), rtol=1e-9)

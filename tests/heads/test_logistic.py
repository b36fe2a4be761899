"""LogisticHead: oracle against sklearn's LogisticRegression, the C path, parameter errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from headwise.exceptions import InputError
from headwise.heads import get_head, load_head, save_head
from headwise.heads._lda import LDAHead, oas_shrinkage, shrink
from headwise.heads._logistic import LogisticHead
from headwise.heads._softmax import Preprocessor, SoftmaxProblem, lda_start, softmax_objective

from ._helpers import toy_blobs


def _overlapping(n=240, d=10, k=3, seed=0):
    X, y = make_classification(
        n, d, n_informative=6, n_classes=k, n_clusters_per_class=1, random_state=seed
    )
    return X * np.linspace(0.2, 5.0, d) + 1.0, y  # uneven feature scales, not centred


def test_registered():
    assert isinstance(get_head("logistic"), LogisticHead)


# ---------------------------------------------------------------- oracle: sklearn's problem
@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
@pytest.mark.parametrize("k", [3, 5])
def test_objective_at_most_sklearn(C, k):
    X, y = _overlapping(k=k)
    head = LogisticHead(C=C, preprocess="none", tol=1e-9, max_iter=5000).fit(X, y)
    oracle = LogisticRegression(C=C, max_iter=5000, tol=1e-10).fit(X, y)
    ours = softmax_objective(head.coef_, head.intercept_, X, y, C)
    theirs = softmax_objective(oracle.coef_, oracle.intercept_, X, y, C)
    assert ours <= theirs * (1 + 1e-6)
    np.testing.assert_array_equal(head.predict(X), oracle.predict(X))
    np.testing.assert_allclose(head.predict_proba(X), oracle.predict_proba(X), atol=1e-4)


def test_binary_is_sklearn_binary_at_twice_C():
    X, y = _overlapping(k=2)
    head = LogisticHead(C=0.5, preprocess="none", tol=1e-9, max_iter=5000).fit(X, y)
    oracle = LogisticRegression(C=1.0, max_iter=5000, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(
        head.decision_function(X), oracle.decision_function(X), rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(head.coef_[1], -head.coef_[0], rtol=1e-6, atol=1e-8)


def test_balanced_class_weight_matches_sklearn():
    X, y = _overlapping(k=3)
    keep = (y != 2) | (np.arange(y.size) % 4 == 0)  # make class 2 rare
    X, y = X[keep], y[keep]
    head = LogisticHead(C=1.0, preprocess="none", class_weight="balanced", tol=1e-9).fit(X, y)
    oracle = LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000, tol=1e-10)
    oracle.fit(X, y)
    s = (y.size / (3 * np.bincount(y)))[y]
    ours = softmax_objective(head.coef_, head.intercept_, X, y, 1.0, s)
    theirs = softmax_objective(oracle.coef_, oracle.intercept_, X, y, 1.0, s)
    assert ours <= theirs * (1 + 1e-6)


def test_dict_class_weight_weights_rows():
    X, y = _overlapping(k=3)
    labels = np.array(["a", "b", "c"])[y]
    weights = {"a": 2.0, "c": 0.5}
    head = LogisticHead(C=1.0, preprocess="none", class_weight=weights, tol=1e-9).fit(X, labels)
    oracle = LogisticRegression(C=1.0, class_weight=weights, max_iter=5000, tol=1e-10)
    oracle.fit(X, labels)
    np.testing.assert_array_equal(head.predict(X), oracle.predict(X))


# ---------------------------------------------------------------- the math
def test_objective_is_stable_for_huge_logits():
    rng = np.random.default_rng(0)
    Z, codes = rng.normal(size=(30, 4)).astype(np.float32), rng.integers(0, 3, 30)
    prob = SoftmaxProblem(Z, codes, 3)
    for scale in (1.0, 1e3, -1e3):  # exp overflows, or whole rows underflow, without a shift
        theta = rng.normal(size=4 * 3 + 3) * scale
        f, g = prob(theta, 1.0)
        V, c = prob.split(theta)
        expected = softmax_objective(V.T, c, Z, codes, 1.0) / 30
        assert np.isfinite(g).all()
        assert f == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("weighted", [False, True])
def test_gradient_matches_finite_differences(weighted):
    rng = np.random.default_rng(0)
    Z, codes = rng.normal(size=(30, 4)), rng.integers(0, 3, 30)
    s = rng.uniform(0.5, 2.0, 30) if weighted else None
    prob = SoftmaxProblem(Z, codes, 3, s)
    theta = rng.normal(size=4 * 3 + 3)
    f, g = prob(theta, 0.7)
    eps = 1e-6
    num = [
        (prob(theta + eps * e, 0.7)[0] - prob(theta - eps * e, 0.7)[0]) / (2 * eps)
        for e in np.eye(15)
    ]
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)
    V, c = prob.split(theta)
    expected = softmax_objective(V.T, c, Z, codes, 1 / 0.7, s) / prob.s_sum
    assert f == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("kind", ["whiten", "standardize", "none"])
def test_model_is_folded_back_to_raw_features(kind):
    X, y = _overlapping()
    head = LogisticHead(C=0.1, preprocess=kind).fit(X, y)
    np.testing.assert_allclose(head.logits(X), X @ head.coef_.T + head.intercept_)
    pre = Preprocessor.fit(X, y, 3, kind)
    prob = SoftmaxProblem(pre.transform(X, np.float64), y, 3)
    theta = np.random.default_rng(0).normal(size=10 * 3 + 3)
    W, b = pre.to_original(*prob.split(theta))
    np.testing.assert_allclose(X @ W + b, prob.logits(theta), rtol=1e-9, atol=1e-9)


def test_whitening_is_the_inverse_root_of_the_shrunk_within_class_covariance():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 4000)
    mixing = rng.normal(size=(6, 6)) * np.array([0.1, 0.5, 1.0, 2.0, 5.0, 10.0])
    X = rng.normal(size=(4000, 6)) @ mixing + rng.normal(size=(3, 6))[y] + 3.0
    pre = Preprocessor.fit(X, y, 3, "whiten")
    means = np.array([X[y == k].mean(0) for k in range(3)])
    within = np.cov((X - means[y]).T, bias=True)
    shrunk = shrink(within, oas_shrinkage(within, y.size))
    np.testing.assert_allclose(pre.T @ pre.T.T @ shrunk, np.eye(6), atol=1e-6)
    np.testing.assert_allclose(pre.transform(X, np.float64).mean(0), 0.0, atol=1e-9)


@pytest.mark.parametrize("kind", ["whiten", "standardize", "none"])
def test_lda_start_is_the_oas_lda_classifier(kind):
    """Whitening uses LDA's own covariance; "standardize" shrinks in the standardised space."""
    X, y = _overlapping()
    pre = Preprocessor.fit(X, y, 3, kind)
    prob = SoftmaxProblem(pre.transform(X, np.float64), y, 3)
    W, b = pre.to_original(*prob.split(lda_start(pre, np.log(np.bincount(y) / y.size))))
    Xl = (X - X.mean(0)) / X.std(0) if kind == "standardize" else X
    lda = LDAHead(shrinkage="oas").fit(Xl, y)
    np.testing.assert_array_equal((X @ W + b).argmax(1), lda.predict(Xl))


@pytest.mark.parametrize("kind", ["whiten", "standardize", "none"])
def test_lda_warm_start_reaches_the_same_optimum(kind):
    X, y = _overlapping()
    a = LogisticHead(C=0.3, preprocess=kind, tol=1e-8, max_iter=3000).fit(X, y)
    b = LogisticHead(C=0.3, preprocess=kind, tol=1e-8, max_iter=3000, warm_start_from="lda")
    b.fit(X, y)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-5)


def test_float32_and_float64_agree():
    X, y = _overlapping()
    a = LogisticHead(C=0.1).fit(X, y)
    b = LogisticHead(C=0.1).fit(X.astype(np.float32), y)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-3)


# ---------------------------------------------------------------- choosing C
def test_c_chosen_on_validation_then_refit_on_all_rows():
    X, y = _overlapping(n=400)
    Cs = (0.001, 0.1, 10.0)
    head = LogisticHead(Cs=Cs, preprocess="none", tol=1e-8, max_iter=3000, c_rule="min")
    head.fit(X, y)
    assert head.val_scores_.shape == head.val_log_losses_.shape == head.Cs_.shape
    # the lowest held-out log-loss wins, and it is never an edge of the grid tried
    best = int(np.argmin(head.val_log_losses_))
    assert head.C_ == head.Cs_[best]
    assert 0 < best < head.Cs_.size - 1
    # With preprocess="none" the refit is exactly the fixed-C problem on every row.
    fixed = LogisticHead(C=head.C_, preprocess="none", tol=1e-8, max_iter=3000).fit(X, y)
    f_path = softmax_objective(head.coef_, head.intercept_, X, y, head.C_)
    f_fixed = softmax_objective(fixed.coef_, fixed.intercept_, X, y, head.C_)
    assert f_path == pytest.approx(f_fixed, rel=1e-8)


def _aniso(n=600, d=20, seed=3):
    """Signal in low-variance features: the isotropic penalty needs a large C to reach it."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, d)) * np.r_[np.full(d // 2, 5.0), np.full(d - d // 2, 0.2)]
    X[:, d // 2 : d // 2 + 3] += 0.4 * np.eye(3)[y]
    return X, y


def _noisy_wide(n=150, d=60, seed=0):
    """Few rows, many noise features: a weak penalty overfits."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, d))
    X[:, :3] += 0.7 * np.eye(3)[y]
    return X, y


@pytest.mark.parametrize(("Cs", "side"), [((30.0, 100.0), "below"), ((0.01, 0.03), "above")])
def test_grid_widens_until_the_best_c_is_interior(Cs, side):
    X, y = _noisy_wide() if side == "below" else _aniso()
    head = LogisticHead(Cs=Cs, cv="holdout", c_rule="min", validation_fraction=0.3).fit(X, y)
    best = int(np.argmin(head.val_log_losses_))
    assert 0 < best < head.Cs_.size - 1
    assert head.C_ < min(Cs) if side == "below" else head.C_ > max(Cs)
    steps = np.diff(np.log(head.Cs_))
    np.testing.assert_allclose(steps, np.log(Cs[1] / Cs[0]))  # widened by the grid's own step
    # the walk starts inside the grid and stops one step past the best
    assert best == (1 if side == "below" else head.Cs_.size - 2)


def test_one_se_rule_takes_the_c_nearest_the_prior_within_the_evidence():
    from headwise.heads._cpath import CSearch

    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 1.0, 400)
    search = CSearch([], 100, 1e-3, prior=0.01)
    spread = np.tile([1.0, -1.0], 200)  # zero mean: the paired SE is noise / 20
    for C, shift, noise in [(0.001, 0.3, 0.0), (0.01, 0.02, 0.266), (0.1, 0.0, 0.0),
                            (1.0, 0.04, 0.0)]:  # 0.01 is 1.5 standard errors behind 0.1
        search.row_losses[C] = base + shift + noise * spread
        search.scores[C] = (0.5, float(search.row_losses[C].mean()))
    assert search.best() == 0.1
    assert search.choose(2.0) == 0.01  # 0.02 nats worse, but within 2 noisy standard errors
    assert search.choose(0.0) == 0.1
    assert search.choose(1.0) == 0.1  # 0.01 is beyond one standard error ...
    assert search.choose(1.0, gate=2.0) == 0.01  # ... but the best's lead is not evidence
    assert search.choose(1.0, gate=1.0) == 0.1
    search.prior = None
    assert search.choose(2.0) == 0.1


def test_default_c_is_sklearns_default_on_few_noisy_rows():
    # 8 rows per class of nearly pure noise around a common offset: no C can show evidence,
    # so the head is sklearn's LogisticRegression(C=1) on the rows scaled to unit RMS norm
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 30)) * 0.2 + rng.normal(size=30) * 0.3
    y = np.repeat(np.arange(5), 8)
    X[np.arange(40), y] += 0.05
    head = LogisticHead(tol=1e-9, max_iter=5000).fit(X, y)
    share = np.mean(np.sum((X - X.mean(0)) ** 2, axis=1)) / np.mean(np.sum(X**2, axis=1))
    assert share < 0.7  # the offset matters: the prior is not 1/d
    assert head.preprocess_ == "isotropic" and head.C_ == head.C0_ == pytest.approx(share / 30)
    U = X / np.sqrt(np.mean(np.sum(X**2, axis=1)))  # unit RMS norm
    oracle = LogisticRegression(C=1.0, max_iter=5000, tol=1e-10).fit(U, y)
    np.testing.assert_allclose(head.predict_proba(X), oracle.predict_proba(U), atol=1e-4)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_at_its_prior_the_head_is_sklearns_default_on_normalised_embeddings(n_classes):
    # L2-normalised rows with a shared component (as sentence embeddings have): at C0_ the
    # head is exactly LogisticRegression() on the rows as given (binary for two classes)
    rng = np.random.default_rng(4)
    y = rng.integers(0, n_classes, 300)
    X = rng.normal(size=(300, 24)) + 2.0 * rng.normal(size=24) + 0.8 * np.eye(24)[y]
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    prior = LogisticHead().fit(X, y).C0_
    head = LogisticHead(C=prior, tol=1e-9, max_iter=5000).fit(X, y)
    oracle = LogisticRegression(max_iter=10_000, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(head.predict_proba(X), oracle.predict_proba(X), atol=1e-5)


def test_repeated_folds_count_each_row_once_in_the_standard_error():
    # 3 folds repeated twice hold every row out twice; the per-row losses the one-SE rule and
    # the geometry contest compare are per distinct row (the mean of its two scores), not 60
    # entries that would shrink the standard error by sqrt(2)
    from types import SimpleNamespace

    from headwise.heads._cpath import CSearch
    from headwise.heads._ensemble import fit_temperature, temperature_row_losses

    rng = np.random.default_rng(0)
    codes = rng.integers(0, 3, 30)
    splits, logits = [], []
    for _ in range(2):
        for rows in np.array_split(rng.permutation(30), 3):
            z = rng.normal(size=(rows.size, 3))
            val = SimpleNamespace(codes=codes[rows], logits=lambda theta, z=z: z)
            sp = SimpleNamespace(val=val, val_rows=rows, thetas={})
            sp.solve = lambda C, *a, sp=sp: sp.thetas.__setitem__(C, None)
            splits.append(sp)
            logits.append((rows, z))
    search = CSearch(splits, 100, 1e-3)
    search._evaluate(1.0)
    z = np.concatenate([zz for _, zz in logits])
    held = np.concatenate([r for r, _ in logits])
    losses = temperature_row_losses(z, codes[held], fit_temperature(z, codes[held]))
    expected = np.zeros(30)
    np.add.at(expected, held, losses / 2)
    assert search.row_losses[1.0].shape == (30,)
    np.testing.assert_allclose(search.row_losses[1.0], expected)
    assert search.scores[1.0][1] == pytest.approx(losses.mean())


def test_strong_evidence_moves_c_off_the_prior():
    # the isotropic penalty at the prior shrinks the low-variance signal away, and 600 rows
    # show that a weaker penalty is far better
    X, y = _aniso()
    head = LogisticHead().fit(X, y)
    assert head.preprocess_ == "isotropic" and head.C_ > 10 / X.shape[1]
    assert head.score(X, y) > 0.85


def test_kfold_out_of_fold_probabilities_are_honest_refits():
    from sklearn.utils import check_random_state

    from headwise.heads._cpath import stratified_folds

    X, y = _overlapping(n=90)
    head = LogisticHead(Cs=(0.01, 0.1, 1.0), cv=3, tol=1e-9, max_iter=5000).fit(X, y)
    assert head.n_splits_ == 3 * 3  # 90 rows: the 3 folds are repeated 3 times
    np.testing.assert_array_equal(head.oof_rows_, np.arange(90))
    rng = check_random_state(0)
    proba = np.zeros((90, 3))
    for _ in range(3):
        fold = stratified_folds(y, 3, rng)
        for f in range(3):
            tr, va = fold != f, fold == f
            ref = LogisticHead(C=head.C_, preprocess=head.preprocess_, tol=1e-9, max_iter=5000)
            ref.fit(X[tr], y[tr])
            proba[va] += ref.predict_proba(X[va]) / 3
    np.testing.assert_allclose(np.exp(head.oof_log_proba_), proba, atol=1e-5)


def test_auto_preprocess_whitens_only_on_paired_evidence():
    X, y = _overlapping(n=300)
    kfold = LogisticHead().fit(X, y)
    assert set(kfold.geometry_log_losses_) == {"isotropic", "whiten"}  # both routes compete
    assert kfold.preprocess_ == ("whiten" if kfold.geometry_evidence_ > 2.0 else "isotropic")
    head = LogisticHead(cv="holdout").fit(X, y)
    losses = head.geometry_log_losses_
    assert set(losses) == {"whiten", "isotropic"}
    expected = "whiten" if head.geometry_evidence_ > 2.0 else "isotropic"
    assert head.preprocess_ == expected
    for kind in ("whiten", "isotropic"):
        one = LogisticHead(preprocess=kind, cv="holdout").fit(X, y)
        assert one.geometry_log_losses_ == {kind: losses[kind]}
        if kind == head.preprocess_:
            np.testing.assert_allclose(one.coef_, head.coef_)


def test_auto_preprocess_whitens_when_features_have_wildly_different_scales():
    # the signal lives in a few of many low-variance directions beside high-variance noise:
    # sklearn's isotropic penalty shrinks it away at every C near its default (its held-out
    # log-loss stays at chance, a plateau that ends the walk), whitening recovers it, and the
    # evidence says so. (With only 10 low-variance features the preconditioned isotropic walk
    # reaches the signal at C ~ 1e4 C0 and ties with whitening: no evidence, isotropic kept.)
    rng = np.random.default_rng(3)
    n, d = 1500, 50
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, d)) * np.r_[np.full(10, 30.0), np.full(40, 0.05)]
    X[:, 10:13] += 0.08 * np.eye(3)[y]
    head = LogisticHead(cv="holdout").fit(X, y)
    assert head.geometry_evidence_ > 2.0 and head.preprocess_ == "whiten"


def test_paired_evidence_counts_standard_errors():
    from headwise.heads._cpath import paired_evidence

    ref = np.linspace(1.0, 2.0, 50)
    assert paired_evidence(ref, ref) == 0.0
    assert paired_evidence(ref, ref - 0.1 + 0.01 * np.sin(np.arange(50))) > 20
    assert paired_evidence(ref, ref + 0.1 + 0.01 * np.sin(np.arange(50))) < -20


def test_isotropic_penalty_is_sklearn_penalty_scaled():
    X, y = _overlapping(k=3)
    head = LogisticHead(C=0.05, preprocess="isotropic", tol=1e-9, max_iter=5000).fit(X, y)
    Xc = X - X.mean(0)
    s2 = np.mean(np.var(Xc, axis=0))  # mean per-feature variance: the common scale²
    oracle = LogisticRegression(C=0.05 / s2, max_iter=5000, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(head.predict_proba(X), oracle.predict_proba(X), atol=1e-4)


def test_stratified_folds_keep_singletons_in_training():
    from headwise.heads._cpath import stratified_folds

    codes = np.r_[np.zeros(10, int), np.ones(3, int), 2]
    fold = stratified_folds(codes, 5, 0)
    assert fold[-1] == -1
    assert sorted(np.bincount(fold[:10], minlength=5)) == [2] * 5
    assert np.unique(fold[10:13]).size == 3  # three rows: three different folds


def test_validation_rows_come_from_training_data_only():
    X, y = _overlapping(n=400)
    a = LogisticHead(Cs=(0.001, 1.0)).fit(X, y)
    b = LogisticHead(Cs=(0.001, 1.0)).fit(X, y)
    np.testing.assert_array_equal(a.val_scores_, b.val_scores_)
    c = LogisticHead(Cs=(0.001, 1.0), random_state=1).fit(X, y)
    assert not np.array_equal(a.val_scores_, c.val_scores_) or a.C_ == c.C_


def test_fixed_c_skips_the_path():
    X, y = toy_blobs()
    head = LogisticHead(C=2.0).fit(X, y)
    assert head.C_ == 2.0
    np.testing.assert_array_equal(head.Cs_, [2.0])
    assert np.isnan(head.val_scores_).all()


def test_one_row_per_class_falls_back_to_median_c():
    X, y = toy_blobs(n_per_class=1)
    head = LogisticHead(Cs=(0.01, 0.1, 1.0)).fit(X, y)
    assert head.C_ == 0.1
    assert np.isnan(head.val_scores_).all()
    np.testing.assert_array_equal(head.predict(X), y)


def test_string_and_binary_labels():
    X, y = toy_blobs(n_classes=2)
    labels = np.array(["no", "yes"])[y]
    head = LogisticHead().fit(X, labels)
    assert head.classes_.tolist() == ["no", "yes"]
    assert head.coef_.shape == (2, X.shape[1])
    assert np.mean(head.predict(X) == labels) > 0.95


def test_save_load_keeps_the_path_record(tmp_path):
    X, y = toy_blobs()
    head = LogisticHead().fit(X, y)
    loaded = load_head(save_head(head, tmp_path / "h.safetensors"))
    np.testing.assert_array_equal(loaded.logits(X), head.logits(X))
    np.testing.assert_array_equal(loaded.val_scores_, head.val_scores_)
    assert loaded.C_ == head.C_ and loaded.n_iter_ == head.n_iter_


# ---------------------------------------------------------------- parameter errors
@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"C": -1},
            "The 'C' parameter of LogisticHead must be a float in the range (0, inf). Got -1 instead.",
        ),
        ({"C": 0.0}, "'C' parameter of LogisticHead must be a float in the range (0, inf)"),
        ({"Cs": ()}, "The 'Cs' parameter of LogisticHead must be a non-empty sequence"),
        ({"Cs": (1.0, -2.0)}, "'Cs' parameter"),
        ({"Cs": "abc"}, "'Cs' parameter"),
        (
            {"validation_fraction": 0.0},
            "'validation_fraction' parameter of LogisticHead must be a float in the range (0, 1). Got 0.0",
        ),
        ({"validation_fraction": 1.0}, "'validation_fraction'"),
        ({"preprocess": "pca"}, "'preprocess' parameter of LogisticHead must be one of"),
        ({"max_iter": 0}, "'max_iter' parameter"),
        ({"tol": 0}, "'tol' parameter"),
        ({"warm_start_from": "ridge"}, "'warm_start_from' parameter"),
        ({"class_weight": "auto"}, "'class_weight' parameter"),
        ({"class_weight": {7: 1.0}}, "class_weight names the label 7"),
        ({"class_weight": {0: -1.0}}, r"class_weight\[0\] must be a float"),
    ],
)
def test_bad_parameters_raise_at_fit(params, message):
    head = LogisticHead(**params)  # the constructor only stores its arguments
    X, y = toy_blobs()
    with pytest.raises(InputError, match=message if "\\" in message else None) as info:
        head.fit(X, y)
    if "\\" not in message:
        assert message in str(info.value)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------- real embeddings
@pytest.mark.slow
def test_banking77_at_least_sklearn_default(minilm_embeddings):
    """Acceptance: on MiniLM embeddings of Banking77 (16 training rows of every class, to stay
    fast) the tuned head is at least as accurate as sklearn's default LogisticRegression on the
    same rows. The embeddings are the session's sample of Banking77 (tests/conftest.py), which
    the real-data trust tests use too; bench/logistic_banking77.py measures the full data set
    and the fit times."""
    import time

    X, y, splits = minilm_embeddings("banking77")
    train = np.flatnonzero(splits == "train")
    first16 = np.concatenate([train[y[train] == c][:16] for c in np.unique(y)])
    assert first16.size == 16 * 77
    test = np.flatnonzero(splits == "test")
    Xtr, ytr, Xte, yte = X[first16], y[first16], X[test], y[test]

    t0 = time.perf_counter()
    ours = LogisticHead().fit(Xtr, ytr)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    oracle = LogisticRegression(max_iter=1000).fit(Xtr, ytr)
    t_sklearn = time.perf_counter() - t0
    acc_ours = float(np.mean(ours.predict(Xte) == yte))
    acc_sklearn = float(np.mean(oracle.predict(Xte) == yte))
    print(
        f"banking77 subset {Xtr.shape}: headwise {acc_ours:.4f} in {t_ours:.2f}s (C={ours.C_}), "
        f"sklearn C=1 {acc_sklearn:.4f} in {t_sklearn:.2f}s"
    )
    assert acc_ours >= acc_sklearn
    assert acc_ours > 0.8


# ---------------------------------------------------------------- few rows: eigen-rotated rows
def _few_rows(k=5, per_class=8, d=30, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(k), per_class)
    X = rng.normal(size=(k, d))[y] + rng.normal(size=(y.size, d)) * np.linspace(0.2, 3.0, d)
    return X + 1.0, y


def test_few_rows_isotropic_penalty_is_sklearn_penalty_scaled():
    # 8 rows per class: the solve runs on rows rotated into the penalty's eigenbasis
    X, y = _few_rows()
    head = LogisticHead(C=0.05, preprocess="isotropic", tol=1e-9, max_iter=5000).fit(X, y)
    s2 = np.mean(np.var(X - X.mean(0), axis=0))
    oracle = LogisticRegression(C=0.05 / s2, max_iter=5000, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(head.predict_proba(X), oracle.predict_proba(X), atol=1e-4)


@pytest.mark.parametrize("kind", ["isotropic", "whiten"])
@pytest.mark.parametrize("weighted", [False, True])
def test_eigen_rows_solve_is_the_weight_route_solve(monkeypatch, kind, weighted):
    from headwise.heads import _softmax
    from headwise.heads._geometry import geometries
    from headwise.heads._softmax import class_moments

    X, y = _few_rows()
    ((pre, metric),) = geometries(class_moments(X, y, 5), (kind,)).values()
    Z, basis = pre.rows(X, np.float64)
    s = np.where(y == 0, 2.0, 1.0) if weighted else None
    prob = SoftmaxProblem(Z, y, 5, s, basis).with_metric(metric)
    theta0 = np.random.default_rng(1).normal(size=30 * 5 + 5) * 0.01
    assert prob._few_rows()
    fast, _ = prob.solve(theta0, 0.3, 5000, 1e-10)
    monkeypatch.setattr(_softmax, "_EIGEN_ROWS_PER_CLASS", 0)
    slow_prob = SoftmaxProblem(Z, y, 5, s, basis).with_metric(metric)
    assert not slow_prob._few_rows()
    slow, _ = slow_prob.solve(theta0, 0.3, 5000, 1e-10)
    from scipy.special import log_softmax

    # intercepts are determined up to a common shift: compare probabilities
    np.testing.assert_allclose(log_softmax(prob.logits(fast), axis=1),
                               log_softmax(slow_prob.logits(slow), axis=1), atol=1e-5)
    assert prob(fast, 1 / 0.3)[0] <= slow_prob(slow, 1 / 0.3)[0] + 1e-10


@pytest.mark.parametrize("kind", ["isotropic", "whiten"])
def test_eigen_rows_path_stops_where_the_weight_route_stops(monkeypatch, kind):
    # the stopping test is the largest gradient entry in the unrotated variables, so a
    # warm-started path stops where the weight route stops: no iteration on a plateau, and
    # elsewhere about as many (the eigen-rows route runs numpy L-BFGS, the weight route scipy's
    # L-BFGS-B) to solutions as close as the tolerance allows
    from scipy.special import log_softmax

    from headwise.heads import _softmax
    from headwise.heads._geometry import geometries
    from headwise.heads._softmax import class_moments

    X, y = _few_rows(per_class=4)
    ((pre, metric),) = geometries(class_moments(X, y, 5), (kind,)).values()
    Z, basis = pre.rows(X, np.float64)

    def path():
        prob = SoftmaxProblem(Z, y, 5, None, basis).with_metric(metric)
        theta, iters, probas = np.zeros(30 * 5 + 5), [], []
        for C in (0.01, 0.1, 1.0, 1e3, 1e4):
            theta, it = prob.solve(theta, C, 500, 1e-3)
            iters.append(it)
            probas.append(log_softmax(prob.logits(theta), axis=1))
        return np.array(iters), probas

    fast, fast_p = path()
    monkeypatch.setattr(_softmax, "_EIGEN_ROWS_PER_CLASS", 0)
    slow, slow_p = path()
    assert ((fast == 0) == (slow == 0)).all() and (fast == 0).any()
    assert np.abs(fast - slow).max() <= 3
    for a, b in zip(fast_p, slow_p, strict=True):
        np.testing.assert_allclose(np.exp(a), np.exp(b), atol=5e-3)


@pytest.mark.parametrize(
    ("name", "X"),
    [
        ("identical rows", np.ones((20, 5))),
        ("all zeros", np.zeros((20, 5))),
        ("noise around a large offset", np.random.default_rng(0).normal(size=(20, 5)) + 1e6),
    ],
)
def test_rows_that_hardly_vary_still_fit(name, X):
    # the prior C0 (sklearn's C=1 on rows of unit RMS norm) goes to zero as the rows' spread
    # vanishes next to their norm; it is kept inside the range the search can reach
    y = np.repeat([0, 1], 10)
    head = LogisticHead().fit(X, y)
    assert 1e-8 <= head.C0_ <= 1e8, name
    assert np.isfinite(head.predict_proba(X)).all()


def test_signal_under_a_large_offset_is_found():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 100)
    X = rng.normal(size=(200, 5)) + 1e6 + 3.0 * y[:, None]
    head = LogisticHead().fit(X, y)
    assert head.score(X, y) > 0.95

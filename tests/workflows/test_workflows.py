"""The workflows end to end on toy text with the hash encoder: the one path the edges call."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from headwise.exceptions import InputError
from headwise.workflows import (
    EvalRequest,
    EvalResult,
    embed_table,
    evaluate,
    fit_head,
    list_protocols,
    predict_table,
    register_protocol,
    score_head,
)


def test_embed_table_is_cached(toy_table) -> None:
    first = embed_table(toy_table, "hash", progress=False)
    again = embed_table(toy_table, "hash", progress=False)
    assert first.X.shape == (len(toy_table), first.embeddings.dim)
    assert not first.cached and again.cached and again.entry == first.entry
    np.testing.assert_array_equal(first.X, again.X)
    assert again.to_dict()["rows"] == len(toy_table)


def test_fit_calibrate_predict_score(toy_table, tmp_path: Path) -> None:
    model = tmp_path / "m.safetensors"
    res = fit_head(toy_table, encoder="hash", head="lda", out=model, calibrate=True, calib_frac=0.25,
                   run_dir=tmp_path / "run")  # fmt: skip
    n_train = toy_table.split_indices("train").size
    assert res.n_calibration == int(np.ceil(0.25 * n_train)) and res.n_train + res.n_calibration == n_train
    assert res.trust is not None and 0 <= res.trust["coverage"] <= 1 and res.trust["mean_set_size"] >= 0
    assert res.trust["ece_after"] >= 0 and (tmp_path / "run" / "trust.json").is_file()

    pred = predict_table(model, toy_table, split="test", alpha=0.1, ood="energy", top_k=2)
    test = toy_table.split_indices("test")
    assert len(pred) == test.size and set(pred.columns) == {"top_k", "prediction_set", "ood", "ood_pvalue"}
    m = pred.metrics
    assert m is not None and m["n"] == test.size and {"coverage", "mean_set_size"} <= set(m)
    # the metrics agree with the records they summarise
    y = toy_table.labels[test]
    acc = np.mean([r["label"] == t for r, t in zip(pred.records, y, strict=True)])
    cov = np.mean([t in r["prediction_set"] for r, t in zip(pred.records, y, strict=True)])
    assert m["accuracy"] == pytest.approx(acc) and m["coverage"] == pytest.approx(cov)

    sc = score_head(model, toy_table)
    assert sc.split == "test" and sc.n == test.size and sc.accuracy == pytest.approx(m["accuracy"])


def test_predict_without_labels_has_no_metrics(toy_table, tmp_path: Path) -> None:
    from dataclasses import replace

    model = tmp_path / "m.safetensors"
    fit_head(toy_table, encoder="hash", head="ncm", out=model)
    unlabelled = replace(toy_table, labels=None)
    res = predict_table(model, unlabelled)
    assert res.metrics is None and len(res) == len(toy_table)


def test_auto_gets_the_encoder_for_its_zero_shot_prior(toy_table, tmp_path: Path) -> None:
    from headwise.heads import load_head

    model = tmp_path / "auto.safetensors"
    res = fit_head(toy_table, encoder="hash", head="auto", out=model)
    assert "zeroshot" in res.head.scores_  # the labels' names competed as a zero-shot head
    assert set(res.chosen) == set(res.head.members_) and sum(res.chosen.values()) == pytest.approx(1, abs=1e-3)
    assert res.to_dict()["chosen"] == res.chosen
    assert load_head(model).get_params()["encoder"] == "hash"  # saved by name, not as an object
    off = fit_head(toy_table, encoder="hash", head="auto", params={"encoder": None})
    assert "zeroshot" not in off.head.scores_
    other = fit_head(toy_table, encoder="hash", head="lda")
    assert "encoder" not in other.head.get_params()
    assert other.chosen == {"shrinkage": pytest.approx(other.head.shrinkage_, rel=1e-3)}


def test_protocols_give_auto_the_encoder_too(toy_table) -> None:
    res = evaluate("fewshot", toy_table, encoder="hash", heads="auto,lda", seeds=1)
    assert res.result.record.heads["auto"]["encoder"] == "StoreBackedEncoder('hash')"
    assert [r[0] for r in res.rows] == ["auto", "lda"]  # 1 to 16 shots, 2 per class included


def test_the_leaderboard_gives_auto_the_encoder_too(toy_table, tmp_path: Path) -> None:
    from headwise.heads import load_head
    from headwise.workflows import compare_table

    res = compare_table(toy_table, encoder="hash", heads=("auto",), baseline=False,
                        out=tmp_path / "best.safetensors")
    assert res.leaderboard.best == "auto" and res.out is not None
    saved = load_head(res.out)
    assert "zeroshot" in saved.params_ and saved.get_params()["encoder"] == "hash"


def test_overlap_is_counted_and_dropped(toy_table, tmp_path: Path) -> None:
    from dataclasses import replace

    splits = toy_table.splits.copy()
    texts = list(toy_table.texts)
    test = np.flatnonzero(splits == "test")
    train = np.flatnonzero(splits == "train")
    texts[test[0]] = texts[train[0]].upper()  # same text up to case: an overlap
    table = replace(toy_table, texts=texts)
    model = tmp_path / "m.safetensors"
    fit_head(table, encoder="hash", head="ncm", out=model)
    kept = score_head(model, table)
    dropped = score_head(model, table, drop_overlap=True)
    assert kept.n_overlap == 1 and not kept.overlap_dropped and kept.n == test.size
    assert dropped.overlap_dropped and dropped.n == test.size - 1
    assert kept.overlap_warning and "--drop-overlap" in kept.overlap_warning


def test_evaluate_registry_rows_and_json(toy_table, tmp_path: Path) -> None:
    assert {"linear", "fewshot", "transductive", "incremental", "zeroshot", "ood"} <= set(list_protocols())
    res = evaluate("linear", toy_table, encoder="hash", heads="ncm,lda", seeds=2, run_dir=tmp_path / "r")
    assert isinstance(res, EvalResult) and res.columns[0] == "head"
    rows = res.to_rows()
    assert [r[0] for r in rows] == ["ncm", "lda"] and all(len(r) == len(res.columns) for r in rows)
    on_disk = json.loads((tmp_path / "r" / "linear.json").read_text())
    assert on_disk["heads"]["lda"]["test_accuracy"] == pytest.approx(rows[1][2])
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.title = "x"  # type: ignore[misc]


def test_evaluate_refuses_unknown_protocol_and_bad_seeds(toy_table) -> None:
    with pytest.raises(InputError, match="Unknown protocol 'nope'"):
        evaluate("nope", toy_table)
    with pytest.raises(InputError, match="--seeds must be a whole number between 1 and 10000"):
        evaluate("linear", toy_table, encoder="hash", seeds=0)


def test_a_registered_protocol_runs_through_evaluate(toy_table) -> None:
    @register_protocol("count-classes")
    def _count(table, req: EvalRequest) -> EvalResult:
        n = int(np.unique(table.labels).size)
        return EvalResult("count-classes", "classes", ("classes",), ((n,),), {"protocol": "count-classes", "n": n})

    try:
        assert evaluate("count-classes", toy_table).to_rows() == [[3]]
    finally:
        from headwise.workflows import _evaluate

        _evaluate._REGISTRY.pop("count-classes")

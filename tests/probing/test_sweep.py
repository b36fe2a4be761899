"""Layer and attention-head sweeps on a tiny random-weight Llama; per-site caching; the CLI."""

from __future__ import annotations

import importlib.util
import json
import zlib

import numpy as np
import pytest

from headwise.encoders._llm import CausalLMEncoder
from headwise.exceptions import InputError, MissingDependencyError
from headwise.probing import head_sweep, layer_sweep, parse_layers, plot_sweep, site_features
from headwise.store import EmbeddingStore

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

N_LAYERS, DIM, N_HEADS = 2, 32, 4


class WordTokenizer:
    pad_token_id = 0
    eos_token_id = 1

    def __call__(self, texts, truncation=True, max_length=512, padding=False):
        return {"input_ids": [[2 + zlib.crc32(w.encode()) % 60 for w in t.split()][:max_length] for t in texts]}


@pytest.fixture(scope="module")
def model():
    config = transformers.LlamaConfig(
        vocab_size=64, hidden_size=DIM, intermediate_size=64, num_hidden_layers=N_LAYERS,
        num_attention_heads=N_HEADS, num_key_value_heads=2, max_position_embeddings=64,
    )  # fmt: skip
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config).eval()


class CountingEncoder(CausalLMEncoder):
    calls: list[int] = []

    def encode_targets(self, inputs, targets, **kw):
        CountingEncoder.calls.append(len(targets))
        return super().encode_targets(inputs, targets, **kw)

    def view(self, layer, attention_head=None, pooling=None):
        v = super().view(layer, attention_head, pooling)
        v.__class__ = CountingEncoder
        return v


def make_encoder(model):
    return CountingEncoder(
        name="tiny-llama", revision=lambda: "r1", load=lambda: (model, WordTokenizer()),
        n_layers=N_LAYERS, dim=DIM, n_heads=N_HEADS, device="cpu",
    )  # fmt: skip


def word_task(n: int = 80, seed: int = 0):
    """Class 1 texts contain 'good', class 0 texts 'bad', among random filler words."""
    rng = np.random.default_rng(seed)
    filler = "the a of movie film plot actor scene story it was is".split()
    texts, y = [], rng.integers(0, 2, n)
    for label in y:
        words = list(rng.choice(filler, size=int(rng.integers(3, 8))))
        words.insert(int(rng.integers(len(words) + 1)), "good" if label else "bad")
        texts.append(" ".join(words))
    return texts, y


def test_layer_sweep_shapes_and_validation_choice(model, tmp_path):
    texts, y = word_task()
    r = layer_sweep(make_encoder(model), texts, y, train=np.arange(60), test=np.arange(60, 80),
                    head="lda", store=EmbeddingStore(tmp_path))  # fmt: skip
    assert r.kind == "layers" and r.rows == (0, 1, 2) and r.columns == ("last", "mean")
    assert r.val_accuracy.shape == r.test_accuracy.shape == (3, 2)
    i, j = np.unravel_index(np.argmax(r.val_accuracy), r.val_accuracy.shape)
    assert r.best == (r.rows[i], r.columns[j]) and r.best_test_accuracy == r.test_accuracy[i, j]
    assert r.n_train == 60 and r.n_test == 20 and r.n_val == 12
    assert r.val_accuracy.max() >= 0.8  # the word is easy to find even with random weights
    json.dumps(r.to_dict())


def test_head_sweep_one_pass_then_cache_hits(model, tmp_path):
    texts, y = word_task()
    store = EmbeddingStore(tmp_path)
    CountingEncoder.calls.clear()
    r = head_sweep(make_encoder(model), texts, y, train=np.arange(60), test=np.arange(60, 80), store=store)
    assert CountingEncoder.calls == [N_LAYERS * N_HEADS]  # every site from one pass
    assert r.val_accuracy.shape == (N_LAYERS, N_HEADS) and r.columns == tuple(range(N_HEADS))
    assert len(store.entries()) == N_LAYERS * N_HEADS  # one cache entry per (layer, head)
    again = head_sweep(make_encoder(model), texts, y, train=np.arange(60), test=np.arange(60, 80), store=store)
    assert CountingEncoder.calls == [N_LAYERS * N_HEADS]  # second run: cache only
    np.testing.assert_array_equal(again.test_accuracy, r.test_accuracy)
    assert [t[:2] for t in r.top(3)] == [t[:2] for t in again.top(3)]


def test_cached_site_equals_its_view(model, tmp_path):
    """Features filed by the shared pass are exactly what the view itself would cache."""
    texts, _ = word_task(20)
    enc = make_encoder(model)
    store = EmbeddingStore(tmp_path)
    feats = site_features(enc, texts + texts[:3], [(1, 2, "last"), (-1, None, "mean")], store=store)
    view = enc.view(1, 2, "last")
    hit = store.lookup(view, texts + texts[:3])
    assert hit is not None
    np.testing.assert_allclose(hit.to_numpy(), view.encode(texts + texts[:3]), atol=1e-5)
    assert set(feats) == {(1, 2, "last"), (2, None, "mean")}
    np.testing.assert_array_equal(feats[(1, 2, "last")][20:], feats[(1, 2, "last")][:3])


def test_parse_layers():
    assert parse_layers("all", 30) == list(range(31))
    assert parse_layers("28-30,0", 30) == [0, 28, 29, 30]
    assert parse_layers([-1, 3], 29) == [3, 29]
    with pytest.raises(InputError, match=r"in \[0, 30\]"):
        parse_layers("31", 30)
    with pytest.raises(InputError, match="'0,4,8-12'"):
        parse_layers("two", 30)


def test_sweep_errors(model):
    texts, y = word_task(20)
    with pytest.raises(InputError, match="one of ridge"):
        layer_sweep(make_encoder(model), texts, y, head="attentive", store=False)
    with pytest.raises(InputError, match="one label per text"):
        layer_sweep(make_encoder(model), texts, y[:-1], store=False)


def test_plot(model, tmp_path):
    texts, y = word_task(40)
    r = head_sweep(make_encoder(model), texts, y, train=np.arange(30), test=np.arange(30, 40), store=False)
    if importlib.util.find_spec("matplotlib") is None:
        with pytest.raises(MissingDependencyError, match="pip install matplotlib"):
            plot_sweep(r, tmp_path / "h.png")
    else:
        assert plot_sweep(r, tmp_path / "h.png").stat().st_size > 0


def test_cli_probe(model, tmp_path):
    from typer.testing import CliRunner

    from headwise.cli.main import app
    from headwise.encoders import register_encoder
    from headwise.encoders._registry import _runtime

    texts, y = word_task(60)
    rows = [
        {"text": t, "label": int(label), "split": "test" if i % 4 == 0 else "train"}
        for i, (t, label) in enumerate(zip(texts, y, strict=True))
    ]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    register_encoder("tiny-llama", lambda arg, **kw: make_encoder(model))
    try:
        runner = CliRunner()
        res = runner.invoke(app, ["probe", str(data), "--encoder", "tiny-llama", "--json"])
        assert res.exit_code == 0, res.output
        out = json.loads(res.output)
        assert out["kind"] == "layers" and out["n_train"] == 45 and out["n_test"] == 15
        res = runner.invoke(app, ["probe", str(data), "--encoder", "tiny-llama", "--attention-heads",
                                  "--layers", "1", "--head", "lda", "--limit", "30"])  # fmt: skip
        assert res.exit_code == 0, res.output
        assert "attention head" in res.output and "best (by validation): layer 1" in res.output
        res = runner.invoke(app, ["probe", str(data), "--encoder", "hash"])
        assert res.exit_code == 1 and "no per-layer targets" in res.output
    finally:
        _runtime.pop("tiny-llama", None)

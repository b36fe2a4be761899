"""CausalLMEncoder on a tiny random-weight Llama (no download): hidden states, per-head capture,
pooling with padding, one-pass targets and per-site cache keys."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from headwise.encoders._llm import CausalLMEncoder, pool_masked
from headwise.exceptions import InputError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

N_LAYERS, DIM, N_HEADS = 2, 32, 4


class WordTokenizer:
    """Whitespace tokenizer with a hashed vocabulary, the call signature the encoder uses."""

    pad_token_id = 0
    eos_token_id = 1

    def __call__(self, texts, truncation=True, max_length=512, padding=False):
        ids = [[2 + zlib.crc32(w.encode()) % 60 for w in t.split()][:max_length] for t in texts]
        return {"input_ids": ids}


def tiny_llama():
    config = transformers.LlamaConfig(
        vocab_size=64, hidden_size=DIM, intermediate_size=64, num_hidden_layers=N_LAYERS,
        num_attention_heads=N_HEADS, num_key_value_heads=2, max_position_embeddings=64,
    )  # fmt: skip
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def model():
    return tiny_llama()


def make_encoder(model, **kw):
    return CausalLMEncoder(
        name="tiny-llama", revision=lambda: "r1", load=lambda: (model, WordTokenizer()),
        n_layers=N_LAYERS, dim=DIM, n_heads=N_HEADS, device="cpu", **kw,
    )  # fmt: skip


TEXTS = ["the cat sat on the mat today", "a dog", "one two three four", "hi"]


def test_hidden_states_match_transformers_and_pool_real_tokens(model):
    enc = make_encoder(model, layer=1, pooling="last")
    got_last = enc.encode(TEXTS, batch_size=3)
    got_mean = enc.view(1, pooling="mean").encode(TEXTS, batch_size=3)
    tok = WordTokenizer()
    for i, text in enumerate(TEXTS):  # one text at a time: no padding at all
        ids = torch.tensor(tok([text])["input_ids"])
        with torch.no_grad():
            h = model.model(input_ids=ids, output_hidden_states=True).hidden_states[1][0].numpy()
        np.testing.assert_allclose(got_last[i], h[-1], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(got_mean[i], h.mean(axis=0), rtol=1e-4, atol=1e-5)


def test_batch_size_does_not_change_outputs(model):
    enc = make_encoder(model, layer=2, pooling="mean")
    np.testing.assert_allclose(enc.encode(TEXTS, batch_size=1), enc.encode(TEXTS, batch_size=4), atol=1e-5)


def test_pool_masked_left_and_right_padding():
    rng = np.random.default_rng(0)
    h = rng.normal(size=(2, 5, 3)).astype(np.float32)
    right = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    left = np.array([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    np.testing.assert_allclose(pool_masked(h, right, "last")[0], h[0, 2])
    np.testing.assert_allclose(pool_masked(h, left, "last")[0], h[0, 4])
    np.testing.assert_allclose(pool_masked(h, right, "mean")[0], h[0, :3].mean(0), rtol=1e-6)
    np.testing.assert_allclose(pool_masked(h, left, "mean")[0], h[0, 2:].mean(0), rtol=1e-6)
    np.testing.assert_allclose(pool_masked(h, left, "last")[1], h[1, 4])


def test_left_padded_forward_pools_like_unpadded(model):
    """A left-padded batch (position ids from the mask) pools to the unpadded result."""
    ids = [[5, 6, 7], [8, 9, 10, 11, 12]]
    width = 5
    input_ids = torch.tensor([[0] * (width - len(r)) + r for r in ids])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in ids])
    pos = (mask.cumsum(1) - 1).clamp(min=0)
    with torch.no_grad():
        h = model.model(input_ids=input_ids, attention_mask=mask, position_ids=pos,
                        output_hidden_states=True).hidden_states[2].numpy()  # fmt: skip
        ref = model.model(input_ids=torch.tensor([ids[0]]), output_hidden_states=True).hidden_states[2]
    np.testing.assert_allclose(pool_masked(h, mask.numpy(), "last")[0], ref[0, -1].numpy(), atol=1e-5)
    np.testing.assert_allclose(pool_masked(h, mask.numpy(), "mean")[0], ref[0].mean(0).numpy(), atol=1e-5)


def _attention_io(model, ids):
    """o_proj input and self_attn output of every block, captured with hooks."""
    z, out = {}, {}
    handles = []
    for b, layer in enumerate(model.model.layers):
        handles.append(layer.self_attn.o_proj.register_forward_pre_hook(
            lambda m, a, b=b: z.__setitem__(b, a[0].detach().clone())))  # fmt: skip
        handles.append(layer.self_attn.register_forward_hook(
            lambda m, a, o, b=b: out.__setitem__(b, o[0].detach().clone())))  # fmt: skip
    with torch.no_grad():
        model.model(input_ids=torch.tensor([ids]), output_hidden_states=True)
    for h in handles:
        h.remove()
    return z, out


def test_sum_of_head_outputs_through_o_proj_is_the_attention_output(model):
    head_dim = DIM // N_HEADS
    z, out = _attention_io(model, [5, 9, 13, 17, 21])
    for b, layer in enumerate(model.model.layers):
        W = layer.self_attn.o_proj.weight
        total = sum(
            z[b][..., h * head_dim : (h + 1) * head_dim] @ W[:, h * head_dim : (h + 1) * head_dim].T
            for h in range(N_HEADS)
        )
        if layer.self_attn.o_proj.bias is not None:
            total = total + layer.self_attn.o_proj.bias
        torch.testing.assert_close(total, out[b], rtol=1e-5, atol=1e-6)


def test_head_output_matches_manual_attention(model):
    """Every head of block 0 against softmax(q kᵀ/√d + causal mask) v from the weights (RoPE,
    grouped key/value heads), and the encoder's per-head "tokens" output against the same."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    text = "the cat sat on a mat"
    ids = WordTokenizer()([text])["input_ids"][0]
    T, head_dim = len(ids), DIM // N_HEADS
    attn = model.model.layers[0].self_attn
    with torch.no_grad():
        x = model.model.layers[0].input_layernorm(model.model.embed_tokens(torch.tensor([ids])))
        q = attn.q_proj(x).view(1, T, N_HEADS, head_dim).transpose(1, 2)
        k = attn.k_proj(x).view(1, T, -1, head_dim).transpose(1, 2)
        v = attn.v_proj(x).view(1, T, -1, head_dim).transpose(1, 2)
        cos, sin = model.model.rotary_emb(x, torch.arange(T)[None])
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        groups = N_HEADS // k.shape[1]
        k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        scores = q @ k.transpose(-1, -2) / head_dim**0.5
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
        manual = (scores.masked_fill(causal, float("-inf")).softmax(-1) @ v)[0].numpy()
    enc = make_encoder(model)
    out = enc.encode_targets([text, "a b"], [(0, h, "tokens") for h in range(N_HEADS)])
    for h in range(N_HEADS):
        np.testing.assert_allclose(out[(0, h, "tokens")][0], manual[h], rtol=1e-4, atol=1e-5)


def test_encode_targets_matches_single_views(model):
    enc = make_encoder(model)
    targets = [(0, None, "mean"), (2, None, "last"), (1, 3, "mean"), (0, 1, "last")]
    together = enc.encode_targets(TEXTS, targets, batch_size=2)
    for t in targets:
        alone = enc.view(*t).encode(TEXTS, batch_size=3)
        np.testing.assert_allclose(together[enc.view(*t).target], alone, rtol=1e-5, atol=1e-6)
        assert alone.shape == (4, DIM // N_HEADS if t[1] is not None else DIM)


def test_tokens_pooling_returns_every_real_token(model):
    enc = make_encoder(model, layer=1, pooling="tokens")
    te = enc.encode(TEXTS, batch_size=2)
    assert te.lengths.tolist() == [len(t.split()) for t in TEXTS]
    mean = make_encoder(model, layer=1, pooling="mean").encode(TEXTS)
    np.testing.assert_allclose(np.stack([te[i].mean(0) for i in range(4)]), mean, atol=1e-5)


def test_keys_differ_per_site_and_need_no_model():
    loads = []
    enc = CausalLMEncoder(
        name="tiny", revision=lambda: "abc", load=lambda: loads.append(1),
        n_layers=N_LAYERS, dim=DIM, n_heads=N_HEADS,
    )  # fmt: skip
    keys = {
        str(sorted(enc.view(layer, head, pooling).key().items()))
        for layer in range(N_LAYERS)
        for head in (None, 0, 1)
        for pooling in ("last", "mean")
    }
    assert len(keys) == N_LAYERS * 3 * 2
    assert enc.view(-1).key()["layer"] == N_LAYERS
    assert enc.view(-1, 0).key()["layer"] == N_LAYERS - 1
    assert enc.view(0, 2).dim == DIM // N_HEADS and enc.key()["revision"] == "abc"
    assert loads == []  # keys never load the model


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"layer": 3}, "hidden-state index"),
        ({"layer": 2, "attention_head": 0}, "block index"),
        ({"attention_head": 4}, "attention_head"),
        ({"pooling": "cls"}, "pooling"),
        ({"max_length": 0}, "max_length"),
    ],
)
def test_option_errors(model, kw, match):
    with pytest.raises(InputError, match=match):
        make_encoder(model, **kw)

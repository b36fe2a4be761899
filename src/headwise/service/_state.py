"""Everything the service holds while it runs: models, shared encoders, batchers, the journal.

:meth:`ServiceState.open` does the slow, failure-prone part (read head files, load encoders, open
the journal, rebuild every model from its log) before the server binds a port, so a bad models
folder is one clear error, not a half-started service. No FastAPI here.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..exceptions import EncoderMismatchError, HeadwiseError, InputError
from ._batcher import MicroBatcher, encode_by_length, measure_overhead
from ._coalesce import PredictCoalescer
from ._errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from ._journal import JOURNAL_NAME, Journal
from ._metrics import Metrics
from ._model import ServedModel
from .settings import ServeSettings

__all__ = ["SWITCH_INTERVAL_S", "ServiceState", "SharedEncoder"]

SWITCH_INTERVAL_S = 0.0005  # GIL switch interval while an encoder thread runs (default 0.005)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


@dataclass
class SharedEncoder:
    """One encoder instance shared by every model whose head was fitted on its embeddings."""

    spec: str
    options: dict[str, Any]
    encoder: Any
    key: dict[str, Any]
    models: list[str] = field(default_factory=list)
    batcher: MicroBatcher | None = None
    pool: Any = None  # the worker process pool when the encoder runs in its own process
    overhead: float | None = None  # measured fixed cost of a pass (length units; see _batcher)

    @property
    def dim(self) -> int:
        return int(self.encoder.dim)


_WARM_UP = ("warm-up",)


def _warm_up(encode: Any) -> None:
    """Embed one text, so that lazy imports, the tokenizer and the runtime session load at start,
    not during the first requests (seconds for a transformer encoder)."""
    encode(list(_WARM_UP), batch_size=1)


def _key_id(key: Any) -> str:
    return json.dumps(key, sort_keys=True, default=str)


class ServiceState:
    """Models by name, encoders by key, the journal and the metrics of one service."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.models: dict[str, ServedModel] = {}
        self.encoders: dict[str, SharedEncoder] = {}
        self.model_encoder: dict[str, str] = {}
        self.metrics = Metrics()
        self.metrics.gauges = self._gauges
        self.predictor = PredictCoalescer(on_batch=self.metrics.predict_batch)
        self.journal: Journal | None = None
        self.write_lock = threading.Lock()
        self.ready = False
        self._switch_interval: float | None = None  # the interpreter's own, while start() changed it

    # ---------------------------------------------------------------- start and stop
    @classmethod
    def open(cls, settings: ServeSettings) -> ServiceState:
        """Load every head in ``settings.models_dir``, its encoder, and its logged writes."""
        self = cls(settings)
        folder = settings.models_dir
        if folder.is_file():
            raise InputError(
                f"Models folder {folder} is a file; give the folder that holds the head files "
                "(*.safetensors written by `headwise fit`)."
            )
        if not folder.is_dir():
            raise InputError(f"Models folder {folder} does not exist; give a folder of head files.")
        paths = sorted(folder.glob("*.safetensors"))
        if not paths:
            raise InputError(
                f"{folder} holds no *.safetensors head files; `headwise fit DATA --out "
                f"{folder}/NAME.safetensors --calibrate` makes one."
            )
        for path in paths:
            if not _NAME.fullmatch(path.stem):
                raise InputError(
                    f"Model file {path.name}: names may hold only letters, digits, '_', '.' and "
                    "'-'; rename the file."
                )
            self.models[path.stem] = ServedModel(path.stem, path, settings)
        for name, model in self.models.items():
            if model.encoder_spec:
                self._attach_encoder(name, model)
        if not settings.encoder_process:
            for shared in self.encoders.values():
                _warm_up(shared.encoder.encode)  # in its worker process otherwise (see start)
                shared.overhead = measure_overhead(shared.encoder.encode)
        db = settings.state_path / JOURNAL_NAME
        if settings.read_only:
            self.journal = Journal(db, read_only=True) if db.exists() else None
        else:
            self.journal = Journal(db)
        if self.journal is not None:
            try:
                for model in self.models.values():
                    model.restore(self.journal)
            except BaseException:
                self.journal.close()
                raise
        return self

    def _attach_encoder(self, name: str, model: ServedModel) -> None:
        from ..encoders import get_encoder

        spec, options = str(model.encoder_spec), model.encoder_options
        for shared in self.encoders.values():  # same spec and options: reuse before loading
            if shared.spec == spec and shared.options == options:
                break
        else:
            enc = get_encoder(spec, **options)
            shared = SharedEncoder(spec, options, enc, enc.key())
            self.encoders.setdefault(_key_id(shared.key), shared)
            shared = self.encoders[_key_id(shared.key)]
        if model.encoder_key is not None and model.encoder_key != shared.key:
            raise EncoderMismatchError(
                f"Model '{name}' was fitted on embeddings from {model.encoder_key.get('id')}, "
                f"but encoder '{spec}' here gives {shared.key.get('id')} (another version or "
                "options). Refit the head with this encoder."
            )
        shared.models.append(name)
        self.model_encoder[name] = _key_id(shared.key)

    def _encode_fn(self, shared: SharedEncoder) -> Any:
        """``encode(texts)`` in this process (a worker thread) or in a process of its own."""
        if not self.settings.encoder_process:
            enc, overhead = shared.encoder, shared.overhead
            return lambda texts: encode_by_length(enc, texts, overhead)
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from . import _worker

        pool = ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"), initializer=_worker.load,
            initargs=(shared.spec, shared.options),
        )  # fmt: skip
        shared.pool = pool
        found = pool.submit(_worker.key).result()  # loads it now, before the service is ready
        if _key_id(found) != _key_id(shared.key):
            raise EncoderMismatchError(
                f"Encoder '{shared.spec}' gives another key in its worker process ({found}); "
                "check that both see the same model files."
            )
        pool.submit(_worker.encode, list(_WARM_UP)).result()
        shared.overhead = pool.submit(_worker.measure).result()
        return lambda texts: pool.submit(_worker.encode, texts).result()

    def start(self) -> None:
        """Start one micro-batcher per encoder (inside the running event loop).

        With an encoder in a worker thread, the interpreter's GIL switch interval is shortened to
        :data:`SWITCH_INTERVAL_S` until :meth:`stop`: when a forward pass returns (the runtime
        releases the GIL while it computes), the encoder thread otherwise waits up to the default
        5 ms for the event loop to let go, on every pass, while the cores idle.
        """
        s = self.settings
        if self.encoders and not s.encoder_process and self._switch_interval is None:
            self._switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(SWITCH_INTERVAL_S, self._switch_interval))
        for shared in self.encoders.values():
            shared.batcher = MicroBatcher(
                self._encode_fn(shared), max_batch=s.max_batch, max_wait_ms=s.max_wait_ms,
                max_queue=s.max_queue, workers=1 if s.encoder_process else s.encode_workers,
                on_batch=self.metrics.batch,
            )  # fmt: skip
            shared.batcher.start()
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None
        for shared in self.encoders.values():
            if shared.batcher is not None:
                await shared.batcher.stop()
            if shared.pool is not None:
                shared.pool.shutdown(wait=False, cancel_futures=True)
                shared.pool = None

    def close(self) -> None:
        if self.journal is not None:
            self.journal.close()

    # ---------------------------------------------------------------- lookups
    def model(self, name: str) -> ServedModel:
        found = self.models.get(name)
        if found is None:
            known = ", ".join(sorted(self.models)) or "none"
            raise NotFound(f"No model named '{name}' (served: {known}).")
        return found

    def encoder_for(self, name: str) -> SharedEncoder:
        key = self.model_encoder.get(name)
        if key is None:
            raise Invalid(
                f"Model '{name}' does not record the encoder it was fitted with, so it cannot "
                "embed texts.",
                "Send precomputed 'embeddings' instead of 'texts'.",
            )
        return self.encoders[key]

    def encoder_by_spec(self, spec: str | None) -> SharedEncoder:
        if not self.encoders:
            raise Conflict(
                "No encoder is loaded: none of the served heads records the encoder it was "
                "fitted with.",
                "Fit heads with `headwise fit` (it records the encoder), or embed elsewhere.",
            )
        if spec is None:
            if len(self.encoders) == 1:
                return next(iter(self.encoders.values()))
            names = sorted({e.spec for e in self.encoders.values()})
            raise Invalid(
                f"Name the encoder: this service holds {len(names)} ({', '.join(names) or 'none'}).",
                "Add \"encoder\": \"<spec>\" to the body.",
            )
        for shared in self.encoders.values():
            if shared.spec == spec:
                return shared
        names = ", ".join(sorted({e.spec for e in self.encoders.values()})) or "none"
        raise NotFound(f"No encoder '{spec}' is loaded (loaded: {names}).")

    # ---------------------------------------------------------------- embedding
    async def embed(self, shared: SharedEncoder, texts: list[str]) -> np.ndarray:
        if shared.batcher is None:
            raise Unavailable("The service is starting; the encoder is not running yet.")
        try:
            async with asyncio.timeout(self.settings.timeout_s):  # no extra task, unlike wait_for
                return await shared.batcher.submit(texts)
        except TimeoutError:
            raise Unavailable(
                f"The encoder did not answer within {self.settings.timeout_s:g} s.",
                "Retry later, or send smaller requests.",
            ) from None

    # ---------------------------------------------------------------- writes
    def writable_journal(self) -> Journal:
        if self.settings.read_only or self.journal is None:
            raise Forbidden("This service was started with --read-only; it accepts no writes.")
        return self.journal

    def locked_write(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(journal, *args)`` under the write lock (called in a worker thread)."""
        journal = self.writable_journal()
        if not self.write_lock.acquire(timeout=self.settings.timeout_s):
            raise Unavailable(
                f"Another write held the log for more than {self.settings.timeout_s:g} s; nothing "
                "was written.",
                "Retry the request.",
            )
        try:
            return fn(journal, *args)
        except HeadwiseError:
            raise
        except ValueError as exc:  # a statistic refused the rows: the request's fault
            raise Conflict(str(exc)) from None
        finally:
            self.write_lock.release()

    # ---------------------------------------------------------------- metrics
    def _gauges(self) -> list[tuple[str, dict[str, object], float]]:
        out: list[tuple[str, dict[str, object], float]] = []
        for name, m in sorted(self.models.items()):
            out.append(("headwise_model_version", {"model": name}, m.state.version))
        for name, m in sorted(self.models.items()):
            for role in ("train", "calibration"):
                n = sum(1 for r in m.active.values() if r.role == role)
                out.append(("headwise_model_examples", {"model": name, "role": role}, n))
        for shared in self.encoders.values():
            if shared.overhead is not None:
                labels: dict[str, object] = {"encoder": shared.spec}
                out.append(("headwise_encoder_pass_overhead", labels, round(shared.overhead, 2)))
        out.append(("headwise_ready", {}, 1.0 if self.ready else 0.0))
        return out



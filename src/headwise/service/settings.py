"""Settings of `headwise serve`: one frozen dataclass, checked when it is made."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..exceptions import InputError

__all__ = ["TOKEN_ENV", "ServeSettings", "check_can_listen", "read_token"]

TOKEN_ENV = "HEADWISE_SERVE_TOKEN"


def read_token(token_file: Path | None) -> str | None:
    """The bearer token from ``token_file`` (stripped), else ``$HEADWISE_SERVE_TOKEN``, else None."""
    if token_file is not None:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(
                f"Token file {token_file} cannot be read ({exc.strerror or exc}); give a file "
                "holding the bearer token on one line."
            ) from None
        if not token:
            raise InputError(f"Token file {token_file} is empty; put the bearer token in it.")
        return token
    token = os.environ.get(TOKEN_ENV, "").strip()
    return token or None


@dataclass(frozen=True)
class ServeSettings:
    """Everything the service needs; :func:`headwise.service.create_app` takes one.

    >>> ServeSettings(Path("models"), read_only=True).max_batch
    64
    """

    models_dir: Path  # every *.safetensors head in it is served under its file name (stem)
    token: str | None = field(default=None, repr=False)  # bearer token for writes
    read_only: bool = False  # refuse every write (no token needed)
    state_dir: Path | None = None  # SQLite journal + snapshots; default <models_dir>/.headwise-serve
    max_batch: int = 64  # texts gathered into one encoder forward pass
    max_wait_ms: float = 5.0  # how long a text waits for others to share its forward pass
    encode_workers: int = 2  # micro-batches encoded at once per encoder (threads; 1 in a process)
    max_queue: int = 4096  # texts waiting for the encoder before new ones get 503
    max_body_bytes: int = 4 * 1024 * 1024  # request bodies above this get 413
    max_rows: int = 256  # rows (texts, embeddings or examples) per request; more get 413
    max_text_chars: int = 4096  # characters per text; longer ones get 422
    timeout_s: float = 30.0  # longest wait for the encoder or the write lock before 503
    cors_origins: tuple[str, ...] = ()  # origins allowed by CORS; none: no CORS headers
    snapshot_every: int = 200  # statistics snapshot every N writes to a model (0: never)
    calib_fraction: float | None = None  # share of auto-routed examples kept for calibration
    default_alpha: float = 0.1  # conformal miscoverage when a request gives none
    conformal_method: str = "lac"  # lac, aps or raps
    mondrian: bool = False  # class-conditional conformal thresholds
    ood_method: str = "energy"  # energy or msp
    encoder_process: bool = False  # run each encoder in a process of its own (no GIL sharing)

    def __post_init__(self) -> None:
        object.__setattr__(self, "models_dir", Path(self.models_dir))
        if self.state_dir is not None:
            object.__setattr__(self, "state_dir", Path(self.state_dir))
        object.__setattr__(self, "cors_origins", tuple(self.cors_origins))
        if not self.read_only and not self.token:
            raise InputError(
                "Writes need a bearer token: pass --token-file FILE (or set "
                f"{TOKEN_ENV}), or start with --read-only."
            )
        if self.token is not None and not all("!" <= ch <= "~" for ch in self.token):
            # HTTP headers arrive as bytes read as latin-1: a token with other characters (or a
            # space inside) could never be sent so that it matches
            raise InputError(
                "The bearer token may hold only visible ASCII characters (letters, digits and "
                "punctuation, no spaces); generate one with e.g. `python -c \"import secrets; "
                "print(secrets.token_urlsafe(32))\"`."
            )
        for name in ("max_batch", "encode_workers", "max_queue", "max_body_bytes", "max_rows",
                     "max_text_chars"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer. Got {value!r} instead.")
        if self.snapshot_every < 0:
            raise InputError(f"snapshot_every must be 0 (never) or more. Got {self.snapshot_every}.")
        if not self.max_wait_ms >= 0 or not self.timeout_s > 0:
            raise InputError("max_wait_ms must be >= 0 and timeout_s > 0.")
        if self.calib_fraction is not None and not 0.0 <= self.calib_fraction < 1.0:
            raise InputError(
                f"calib_fraction must be in [0, 1). Got {self.calib_fraction!r} instead."
            )
        from ..trust import METHODS, check_alpha

        check_alpha(self.default_alpha, "headwise serve --alpha")
        if self.conformal_method not in METHODS:
            raise InputError(
                f"conformal_method must be one of {', '.join(METHODS)}. "
                f"Got {self.conformal_method!r} instead."
            )
        if self.ood_method not in ("energy", "msp"):
            raise InputError(f"ood_method must be energy or msp. Got {self.ood_method!r} instead.")

    @property
    def state_path(self) -> Path:
        """Folder of the journal (``journal.sqlite``) and the snapshots."""
        return self.state_dir if self.state_dir is not None else self.models_dir / ".headwise-serve"


def check_can_listen(host: str, port: int) -> None:
    """Refuse, in one line, an address the server could not bind (uvicorn would log the OS error
    and exit 3 after the models were loaded). The port is released at once; another process may
    still take it before uvicorn binds, which uvicorn then reports itself."""
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            sock.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(
            f"Cannot listen on {host}:{port}: {reason}. Pick another --port, or a --host this "
            "machine has (127.0.0.1, 0.0.0.0)."
        ) from None

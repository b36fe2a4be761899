"""`headwise serve`: serve a folder of heads over HTTP (FastAPI + uvicorn)."""

from __future__ import annotations

import ipaddress
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from .._validation import check_choice, check_int_range
from ._render import err_console


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    models: Annotated[
        Path, typer.Argument(help="Folder of head files; each *.safetensors is served by its name.")
    ],
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; 0.0.0.0 serves other machines too.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="TCP port.")] = 8000,
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", help="File holding the bearer token for writes "
                     "(else $HEADWISE_SERVE_TOKEN)."),
    ] = None,  # fmt: skip
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Serve predictions only; refuse every write.")
    ] = False,
    state_dir: Annotated[
        Path | None,
        typer.Option("--state-dir", help="Journal and snapshots (default MODELS/.headwise-serve)."),
    ] = None,
    max_batch: Annotated[
        int, typer.Option("--max-batch", help="Texts gathered into one encoder forward pass.")
    ] = 64,
    max_wait_ms: Annotated[
        float, typer.Option("--max-wait-ms", help="How long a text waits for others to batch with.")
    ] = 5.0,
    encode_workers: Annotated[
        int, typer.Option("--encode-workers", help="Micro-batches encoded at once (threads).")
    ] = 2,
    max_rows: Annotated[int, typer.Option("--max-rows", help="Rows per request (more: 413).")] = 256,
    max_body_bytes: Annotated[
        int, typer.Option("--max-body-bytes", help="Request body limit (more: 413).")
    ] = 4 * 1024 * 1024,
    max_text_chars: Annotated[
        int, typer.Option("--max-text-chars", help="Characters per text (more: 422).")
    ] = 4096,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the encoder or the log (then 503).")
    ] = 30.0,
    alpha: Annotated[
        float, typer.Option("--alpha", help="Default conformal miscoverage of predictions.")
    ] = 0.1,
    method: Annotated[str, typer.Option("--method", help="Conformal score: lac, aps or raps.")] = "lac",
    mondrian: Annotated[bool, typer.Option("--mondrian", help="Class-conditional coverage.")] = False,
    ood: Annotated[str, typer.Option("--ood", help="OOD score: energy or msp.")] = "energy",
    calib_fraction: Annotated[
        float | None,
        typer.Option("--calib-fraction", help="Share of 'auto' examples kept for calibration "
                     "(default: the head file's, else 0.2)."),
    ] = None,  # fmt: skip
    snapshot_every: Annotated[
        int, typer.Option("--snapshot-every", help="Statistics snapshot every N writes (0: never).")
    ] = 200,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option("--cors-origin", help="Allow browser calls from this origin (repeatable)."),
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info or warning.")] = "info",
    encoder_process: Annotated[
        bool,
        typer.Option("--encoder-process/--encoder-thread",
                     help="Run each encoder in a process of its own (its forward passes then never "
                     "wait for the HTTP side's GIL) or in a thread of the server."),
    ] = False,  # fmt: skip
    blas_threads: Annotated[
        int,
        typer.Option("--blas-threads", help="numpy/scipy BLAS threads (the encoder keeps its own)."),
    ] = 1,
) -> None:
    """Serve every head in MODELS over HTTP: predictions with conformal sets, online learning.

    Binds 127.0.0.1:8000; another host and port: --host 0.0.0.0 --port 9000.

    Writes need a bearer token (--token-file or $HEADWISE_SERVE_TOKEN) unless --read-only.

    Every accepted write is on disk (MODELS/.headwise-serve) before the reply. Docs: /docs.
    """
    from ..service import ServeSettings, ServiceState, check_can_listen, read_token

    check_int_range(port, "--port", 1, 65535)
    check_choice(log_level, "--log-level", ("debug", "info", "warning"))
    check_int_range(blas_threads, "--blas-threads", 1)
    token = None if read_only else read_token(token_file)
    settings = ServeSettings(
        models, token=token, read_only=read_only, state_dir=state_dir, max_batch=max_batch,
        max_wait_ms=max_wait_ms, encode_workers=encode_workers, max_rows=max_rows, max_body_bytes=max_body_bytes,
        max_text_chars=max_text_chars, timeout_s=timeout, default_alpha=alpha,
        conformal_method=method, mondrian=mondrian, ood_method=ood, calib_fraction=calib_fraction,
        snapshot_every=snapshot_every, cors_origins=tuple(cors_origin or ()),
        encoder_process=encoder_process,
    )  # fmt: skip
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("headwise.serve")
    logger.handlers[:] = [handler]
    logger.setLevel(log_level.upper())
    logger.propagate = False
    if not _is_loopback(host):
        err_console.print(
            f"[yellow]warning:[/] serving on {host}: other machines can reach it "
            "(use a TLS proxy in front of it).", highlight=False,
        )  # fmt: skip
    # The service's own linear algebra is small (one row's logits, a d×d solve per write); threaded
    # BLAS only adds spin-waiting between requests, which on a busy machine made each write ~15×
    # slower. This limits numpy/scipy's BLAS only: torch's encoder threads are separate.
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=blas_threads, user_api="blas")
    check_can_listen(host, port)  # a taken port or unknown host: one line, before loading models
    state = ServiceState.open(settings)  # fail here, in one line, before binding the port
    _serve(settings, state, host, port, log_level)


def _serve(settings: object, state: object, host: str, port: int, log_level: str) -> None:
    import uvicorn

    from ..service import create_app, label_router

    app = create_app(settings, state=state, routers=[label_router])  # type: ignore[arg-type]
    names = ", ".join(sorted(state.models))  # type: ignore[attr-defined]
    err_console.print(
        f"serving {names} on http://{host}:{port} (docs: /docs, labelling page: /label)",
        highlight=False,
    )
    uvicorn.run(
        app, host=host, port=port, log_level=log_level, access_log=False,
        # Keep idle connections longer than clients do (httpx and most pools: 5 s): with equal
        # timeouts the server may close a connection just as a client reuses it (a failed request).
        timeout_keep_alive=30, timeout_graceful_shutdown=10,
    )  # fmt: skip

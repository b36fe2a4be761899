"""Starting or joining Ray, and turning errors raised on Ray workers back into headwise errors.

Ray is an optional extra (``pip install headwise[ray]``); nothing here imports it at module load.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from ..exceptions import HeadwiseError, InputError, MissingDependencyError

__all__ = [
    "actor_pool",
    "cluster_gpus",
    "raise_worker_error",
    "ray_session",
    "require_ray",
    "worker_errors",
]


def require_ray() -> Any:
    """Import and return the ``ray`` module, or say which extra installs it.

    Raises
    ------
    MissingDependencyError
        Ray (with Ray Data) is not installed.
    """
    try:
        import ray
        import ray.data  # noqa: F401  (Ray Data ships in ray[data])
    except ImportError:
        raise MissingDependencyError(
            "The Ray backend needs Ray Data: pip install 'headwise[ray]'."
        ) from None
    return ray


def _configure_data_context() -> None:
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    # Row order is part of the result (labels line up with vectors; the store's entry key of a
    # whole table depends on it), so blocks come back in the order they were read.
    ctx.execution_options.preserve_order = True


def _endpoint(address: str) -> tuple[str, str]:
    """``(IP, port)`` of a ``host:port`` address (the host as given if it does not resolve)."""
    import socket

    host, _, port = address.rpartition(":")
    try:
        host = socket.gethostbyname(host)
    except OSError:
        pass
    return host, port


def _check_same_cluster(ray: Any, address: str | None) -> None:
    """Refuse an ``address`` naming another cluster than the Ray running in this process: it
    would be used as it is, and the work would silently run on the wrong cluster."""
    if address is None or str(address).strip() in ("", "auto") or "://" in str(address):
        return
    try:
        current = str(ray.get_runtime_context().gcs_address)
    except Exception:  # noqa: BLE001 (an old Ray without it: nothing to compare)
        return
    if _endpoint(str(address).strip()) != _endpoint(current):
        raise InputError(
            f"Ray is already running in this process, connected to {current}, not to the "
            f"cluster at {address}; call ray.shutdown() first, or drop the address to use the "
            "running Ray."
        )


@contextlib.contextmanager
def ray_session(address: str | None = None, *, num_cpus: int | None = None) -> Iterator[Any]:
    """Use the running Ray, join the cluster at ``address``, or start a local Ray.

    A Ray that is already initialised in this process is used as it is and left running (an
    ``address`` naming another cluster than the one it is connected to is refused).
    Otherwise ``address="host:6379"`` (or ``"auto"``) joins an existing cluster, and
    ``address=None`` joins the cluster in the ``RAY_ADDRESS`` environment variable where it is
    set, else starts a new local Ray on this machine (``num_cpus`` of its CPUs, all by default).
    In every case the connection is closed again on exit.

    Parameters
    ----------
    address : str, optional
        Address of a cluster's head node as printed by ``ray start --head``.
    num_cpus : int, optional
        CPUs a *local* Ray may use; ignored when joining a cluster.

    Yields
    ------
    module
        The ``ray`` module, initialised.
    """
    ray = require_ray()
    if ray.is_initialized():
        _check_same_cluster(ray, address)
        _configure_data_context()
        yield ray
        return
    if address is not None and not str(address).strip():
        raise InputError("--ray-address is empty; give the head node's host:port or 'auto'.")
    address = _resolve_address(address)
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": os.environ.get("HEADWISE_DEBUG", "") not in ("", "0"),
        "logging_level": logging.WARNING,
    }
    if address is None:
        # "local": a new Ray on this machine, never the cluster named in Ray's own
        # ray_current_cluster file (the last `ray start` here, possibly long dead)
        kwargs["address"], kwargs["num_cpus"] = "local", num_cpus
    else:
        _probe(str(address))
        kwargs["address"] = address
    try:
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        why = (str(exc).splitlines() or [type(exc).__name__])[0].rstrip(". ")
        raise InputError(
            f"Could not start or join {where}: {why}. "
            "Check the address printed by `ray start --head` and that this machine can reach it."
        ) from None
    _configure_data_context()
    try:
        yield ray
    finally:
        ray.shutdown()


def _resolve_address(address: str | None) -> str | None:
    """The cluster to join: ``address``, else ``RAY_ADDRESS`` (as ``ray job submit`` sets it
    for the job it starts), else ``None`` for a new local Ray."""
    if address is not None:
        return str(address).strip()
    return os.environ.get("RAY_ADDRESS", "").strip() or None


def _probe(address: str, timeout: float = 10.0) -> None:
    """Fail fast, in one line, when a ``host:port`` address does not answer (Ray would retry
    for minutes); ``auto`` and ``ray://`` addresses are left to Ray."""
    import socket

    hostport = address.removeprefix("ray://") if address.startswith("ray://") else address
    host, sep, port = hostport.rpartition(":")
    if address == "auto" or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as exc:
        raise InputError(
            f"No Ray cluster answers at {address} ({exc.strerror or exc}). Start one with "
            "`ray start --head` on that machine and pass the address it prints."
        ) from None


def raise_worker_error(exc: BaseException) -> None:
    """Re-raise a headwise error that a Ray worker raised as itself, so it prints as one line.

    Ray wraps exceptions from tasks and actors (``RayTaskError``), sometimes twice; the original
    is its ``cause``. Anything that is not a :class:`HeadwiseError` is left alone (a bug).
    """
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, HeadwiseError):
            raise type(cur)(*cur.args) from None
        nxt = getattr(cur, "cause", None)
        cur = nxt if isinstance(nxt, BaseException) else cur.__cause__


@contextlib.contextmanager
def worker_errors() -> Iterator[None]:
    """Context in which headwise errors raised on workers surface as themselves."""
    try:
        yield
    except HeadwiseError:
        raise
    except Exception as exc:
        raise_worker_error(exc)
        raise


def actor_pool(concurrency: int | tuple[int, int] | None) -> Any:
    """Ray Data's actor-pool compute strategy for ``concurrency`` actors (fixed or (min, max))."""
    import ray.data

    if concurrency is None:
        return ray.data.ActorPoolStrategy(min_size=1, max_size=max(1, _cluster_cpus()))
    if isinstance(concurrency, tuple):
        lo, hi = concurrency
        return ray.data.ActorPoolStrategy(min_size=int(lo), max_size=int(hi))
    if isinstance(concurrency, bool) or int(concurrency) < 1:
        raise InputError(f"concurrency must be an int >= 1 or a (min, max) pair. Got {concurrency!r}.")
    return ray.data.ActorPoolStrategy(size=int(concurrency))


def _cluster_cpus() -> int:
    import ray

    return int(ray.cluster_resources().get("CPU", 1))


def cluster_gpus() -> float:
    """GPUs in the cluster (0 when there are none)."""
    import ray

    return float(ray.cluster_resources().get("GPU", 0))

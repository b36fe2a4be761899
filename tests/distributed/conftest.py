"""Ray fixtures: one local Ray (2 CPUs) for the whole session, started by the first module that
asks for it and shut down at the end.

Ray takes tens of seconds to start on a busy machine, so the tests share one Ray and are few.
A module that needs another Ray (the two-node cluster) shuts this one down; the next module
that asks for ``ray_local`` starts it again.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def _ray_stack() -> Iterator[contextlib.ExitStack]:
    """Closes, at the end of the session, every local Ray that ``ray_local`` started."""
    with contextlib.ExitStack() as stack:
        yield stack


@pytest.fixture(scope="module")
def ray_local(request: pytest.FixtureRequest, _ray_stack: contextlib.ExitStack) -> Iterator[Any]:
    """A local Ray with 2 CPUs; the test module's classes are pickled by value for the workers."""
    ray = pytest.importorskip("ray", reason="the Ray tests need the 'ray' extra")
    from ray import cloudpickle

    from headwise.distributed import ray_session

    if not ray.is_initialized():
        r = _ray_stack.enter_context(ray_session(num_cpus=2))
        # Ray Data's aggregate accumulates up to 1 GiB of input blocks at a time before it
        # merges; the tests' data is tiny, so make every block its own partial result and the
        # per-block accumulation and the merges are really exercised.
        ctx = r.data.DataContext.get_current()
        saved, ctx.shuffle_input_batch_bytes = ctx.shuffle_input_batch_bytes, 1
        _ray_stack.callback(setattr, ctx, "shuffle_input_batch_bytes", saved)
    cloudpickle.register_pickle_by_value(sys.modules[request.module.__name__])
    yield ray
    cloudpickle.unregister_pickle_by_value(sys.modules[request.module.__name__])

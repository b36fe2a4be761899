"""Ray fixtures: one local Ray (2 CPUs) per test module, shut down at the end of it.

Ray takes tens of seconds to start on a busy machine, so the tests share a session and are few.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def ray_local(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A local Ray with 2 CPUs; the test module's classes are pickled by value for the workers."""
    ray = pytest.importorskip("ray", reason="the Ray tests need the 'ray' extra")
    from ray import cloudpickle

    from headwise.distributed import ray_session

    if ray.is_initialized():
        ray.shutdown()
    cloudpickle.register_pickle_by_value(sys.modules[request.module.__name__])
    with ray_session(num_cpus=2) as r:
        # Ray Data's aggregate accumulates up to 1 GiB of input blocks at a time before it
        # merges; the tests' data is tiny, so make every block its own partial result and the
        # per-block accumulation and the merges are really exercised.
        ctx = r.data.DataContext.get_current()
        saved, ctx.shuffle_input_batch_bytes = ctx.shuffle_input_batch_bytes, 1
        yield r
        ctx.shuffle_input_batch_bytes = saved
    cloudpickle.unregister_pickle_by_value(sys.modules[request.module.__name__])

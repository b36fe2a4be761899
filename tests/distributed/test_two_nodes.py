"""Two Ray nodes on this machine (ray.cluster_utils.Cluster): the rows are spread over both,
and the merged statistics, the fitted heads and the store rows equal the single-process ones."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from headwise.encoders import get_encoder
from headwise.heads import LogisticHead, NCMHead, SufficientStats
from headwise.store import EmbeddingStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[Any]:
    pytest.importorskip("ray", reason="the Ray tests need the 'ray' extra")
    import ray
    import ray.data
    from ray import cloudpickle
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().shuffle_input_batch_bytes = 1  # a partial per block
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_statistics_and_heads_on_two_nodes_equal_one_process(two_nodes: Any) -> None:
    from headwise.distributed import RayRowSource, embedding_dataset, fit_head_ray, ray_stats

    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 4000)
    X = rng.normal(size=(3, 16))[y] * 2 + rng.normal(size=(4000, 16))
    ds = embedding_dataset(X, y, rows_per_block=500)
    merged, one = ray_stats(ds), SufficientStats.from_data(X, y)
    for part in ("sums", "sq_sums", "gram_full"):
        a, b = getattr(merged, part), getattr(one, part)
        assert np.max(np.abs(a - b)) <= 1e-9 * np.max(np.abs(b)), part
    ncm = fit_head_ray(NCMHead(), ds)
    np.testing.assert_allclose(ncm.centroids_, NCMHead().fit(X, y).centroids_, rtol=1e-12)
    source = RayRowSource(ds, workers=2)
    import ray

    assert len(set(ray.get([w.node_id.remote() for w in source.workers]))) == 2
    source.close()
    lr = fit_head_ray(LogisticHead(C=1.0), embedding_dataset(X.astype(np.float32), y))
    assert lr.score(X, y) > 0.9


def test_embedding_on_two_nodes_writes_the_rows_a_local_run_reads(two_nodes: Any,
                                                                  tmp_path: Path) -> None:  # fmt: skip
    from headwise.distributed import embed_inputs

    texts = [f"sentence {i}" for i in range(2500)]
    res = embed_inputs(texts, "hash", store=tmp_path, concurrency=2, rows_per_task=400)
    assert not res.cache_hit
    hit = EmbeddingStore(tmp_path).lookup(get_encoder("hash"), texts)
    assert hit is not None and hit.key == res.embeddings.key
    np.testing.assert_array_equal(hit.to_numpy(), get_encoder("hash").encode(texts))

"""Ray backend on one local Ray (2 CPUs): the store rows, merged statistics and fitted heads
equal the single-process ones; a killed encoder actor is retried and the store stays clean."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from headwise._atomic import is_temp_name
from headwise.encoders import get_encoder
from headwise.exceptions import InputError
from headwise.heads import (
    GaussianNBHead,
    LDAHead,
    LogisticHead,
    NCMHead,
    RandomProjectionRidgeHead,
    RidgeHead,
    SufficientStats,
    fit_streaming,
)
from headwise.store import EmbeddingStore

pytestmark = pytest.mark.usefixtures("ray_local")

TOL = 1e-9  # relative agreement asked of merged statistics and heads fitted from them


def _table(path: Path, n: int) -> Path:
    rows = [{"text": f"row {i} says {'abc'[i % 3] * (1 + i % 5)}", "label": "xyz"[i % 3]}
            for i in range(n)]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _data(n: int = 600, d: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=2.0, size=(4, d))
    y = rng.integers(0, 4, n)
    return centers[y] + rng.normal(size=(n, d)), y


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-300))


def test_embed_table_on_ray_writes_the_rows_a_local_run_reads(tmp_path: Path) -> None:
    from headwise.distributed import embed_table

    data = _table(tmp_path / "t.jsonl", 700)
    store = tmp_path / "store"
    first = embed_table(data, "hash", backend="ray", store=store, concurrency=2, batch_size=32)
    assert (first.cache_hit, first.rows, first.backend) == (False, 700, "ray")
    local = embed_table(data, "hash", backend="local", store=store)
    assert local.cache_hit  # the single-machine path finds the rows Ray wrote
    again = embed_table(data, "hash", backend="ray", store=store)
    assert again.cache_hit and again.embeddings.key == first.embeddings.key
    texts = [json.loads(line)["text"] for line in data.read_text().splitlines()]
    expected = get_encoder("hash").encode(texts)
    np.testing.assert_array_equal(first.embeddings.to_numpy(), expected)
    assert all(r.ok for r in EmbeddingStore(store).verify())


def _partials(ds: Any, where: Path) -> int:
    """How many blocks Ray Data's aggregate accumulated separately (each leaves a file)."""
    from headwise.distributed import StatsAggregate

    class Counting(type(StatsAggregate())):  # type: ignore[misc]
        def aggregate_block(self, block: Any) -> Any:
            (where / os.urandom(8).hex()).touch()
            return super().aggregate_block(block)

    ds.aggregate(Counting())
    return len(list(where.iterdir()))


def test_merged_statistics_equal_single_process_and_give_the_same_heads(tmp_path: Path) -> None:
    from headwise.distributed import embedding_dataset, fit_head_ray, ray_stats

    X, y = _data()
    ds = embedding_dataset(X, y, rows_per_block=97)  # float64 rows, 7 blocks, 2 workers
    ray_s = ray_stats(ds)
    one = SufficientStats.from_data(X, y)
    assert _partials(ds, tmp_path) >= 2  # blocks really were accumulated apart, then merged
    np.testing.assert_array_equal(ray_s.classes, one.classes)
    np.testing.assert_array_equal(ray_s.counts, one.counts)
    for part in ("sums", "sq_sums", "gram_full"):
        assert _rel(getattr(ray_s, part), getattr(one, part)) <= TOL, part
    Xt = _data(seed=1)[0]
    for head in (NCMHead(), LDAHead(), RidgeHead(), GaussianNBHead()):  # what fit_head_ray does
        on_ray = type(head)(**head.get_params()).fit_from_stats(ray_s)
        assert _rel(on_ray.decision_function(Xt), head.fit(X, y).decision_function(Xt)) <= TOL
    rp = RandomProjectionRidgeHead(n_components=64)  # statistics of projected rows, on Ray
    on_ray = fit_head_ray(RandomProjectionRidgeHead(n_components=64), ds)
    assert _rel(on_ray.decision_function(Xt), rp.fit(X, y).decision_function(Xt)) <= TOL
    with pytest.raises(InputError, match="Column 'vectors' not found"):  # one line, not a trace
        ray_stats(ds, features="vectors")


@pytest.mark.slow
def test_every_statistics_head_fitted_on_ray_equals_fit() -> None:
    from headwise.distributed import embedding_dataset, fit_head_ray

    X, y = _data(seed=2)
    ds = embedding_dataset(X, y, rows_per_block=150)
    Xt = _data(seed=3)[0]
    for head in (NCMHead(metric="euclidean"), LDAHead(shrinkage=0.1), RidgeHead(),
                 GaussianNBHead()):  # fmt: skip
        on_ray = fit_head_ray(type(head)(**head.get_params()), ds)
        assert _rel(on_ray.decision_function(Xt), head.fit(X, y).decision_function(Xt)) <= TOL


def test_logistic_with_data_parallel_gradients_matches_streaming_fit() -> None:
    from headwise.distributed import embedding_dataset, fit_head_ray

    X, y = _data(n=3000, d=8)
    X = X.astype(np.float32)
    on_ray = fit_head_ray(LogisticHead(C=1.0), embedding_dataset(X, y), workers=2)
    local = fit_streaming(LogisticHead(C=1.0), X, y, chunk_rows=700)
    Xt = _data(n=200, d=8, seed=1)[0]
    np.testing.assert_array_equal(on_ray.classes_, local.classes_)
    # Same problem and path; only the order of float32 partial sums differs.
    assert _rel(on_ray.coef_, local.coef_) < 1e-4
    assert np.mean(on_ray.predict(Xt) == local.predict(Xt)) >= 0.99


class KillOnce:
    """The hash encoder, except that the actor process dies the first time it sees ``victim``."""

    def __init__(self, marker: str, victim: str) -> None:
        self.inner = get_encoder("hash")
        self.name, self.dim, self.pooling = self.inner.name, self.inner.dim, "mean"
        self.marker, self.victim = marker, victim

    def key(self) -> Any:
        return self.inner.key()

    def encode(self, inputs: Any, *, batch_size: int = 32, progress: Any = None) -> np.ndarray:
        if self.victim in inputs and not os.path.exists(self.marker):
            Path(self.marker).touch()
            os._exit(1)  # no exception, no cleanup: as if the machine went away
        return self.inner.encode(inputs, batch_size=batch_size)


def test_killed_encoder_actor_is_retried_and_the_store_stays_clean(tmp_path: Path) -> None:
    from headwise.distributed import embed_inputs

    texts = [f"text number {i}" for i in range(3000)]
    marker = tmp_path / "killed"
    enc = KillOnce(str(marker), texts[2500])
    res = embed_inputs(texts, enc, store=tmp_path / "store", concurrency=2, rows_per_task=500)
    assert marker.exists()  # an actor really died mid-run
    np.testing.assert_array_equal(res.embeddings.to_numpy(), get_encoder("hash").encode(texts))
    checks = EmbeddingStore(tmp_path / "store").verify()
    assert checks and all(r.ok for r in checks)
    assert not [p for p in (tmp_path / "store").rglob("*") if is_temp_name(p.name)]


class BytesEncoder:
    """A stand-in image encoder: the vector is the first bytes of the image's content digest."""

    name, dim, pooling = "bytes-test", 4, "mean"

    def key(self) -> Any:
        return {"name": self.name, "version": 1}

    def encode(self, inputs: Any, *, batch_size: int = 32, progress: Any = None) -> np.ndarray:
        return np.asarray([list(i.cache_digest()[:4]) for i in inputs], dtype=np.float32)


@pytest.mark.slow
def test_image_folder_on_ray_hits_the_rows_of_load_images(tmp_path: Path) -> None:
    Image = pytest.importorskip("PIL.Image")
    from headwise.distributed import embed_table
    from headwise.media import load_images

    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(6):
            arr = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(arr).save(tmp_path / "imgs" / cls / f"{i}.png")
    res = embed_table(tmp_path / "imgs", BytesEncoder(), store=tmp_path / "s", concurrency=1)
    assert res.rows == 12 and res.labels.tolist() == ["cat"] * 6 + ["dog"] * 6
    table = load_images(tmp_path / "imgs")
    hit = EmbeddingStore(tmp_path / "s").lookup(BytesEncoder(), table.texts)
    assert hit is not None
    np.testing.assert_array_equal(hit.to_numpy(), BytesEncoder().encode(table.texts))


@pytest.mark.parametrize("text_col", [None, "code"])
def test_ray_reads_texts_and_labels_as_load_table_does(tmp_path: Path, text_col: Any) -> None:
    """One reader's rules on both paths: ``007`` stays the text "007" (for the default text column
    and a named one), and labels are kept as written: true/false stay 'true'/'false' (Ray made
    them 1/0)."""
    from headwise.datasets import load_table
    from headwise.distributed._read import read_table

    name = text_col or "text"
    data = tmp_path / "codes.csv"
    data.write_text(f"{name},label\n007,true\n1.50,false\n42,true\n")
    src = read_table(data, text_col=text_col, with_labels=True)
    local = load_table(data, text_col=text_col)
    assert src.inputs == local.texts == ["007", "1.50", "42"]
    assert src.labels.tolist() == local.labels.tolist() == ["true", "false", "true"]
    # a ';'-separated export is read with ';' on both paths
    data.write_text(f"{name};label\n007;true\n1.50;false\n42;true\n")
    with pytest.warns(UserWarning, match="separates its columns with ';'"):
        local = load_table(data, text_col=text_col)
    src = read_table(data, text_col=text_col, with_labels=True)
    assert src.inputs == local.texts == ["007", "1.50", "42"]
    assert src.labels.tolist() == local.labels.tolist() == ["true", "false", "true"]


def test_an_address_of_another_cluster_is_refused_when_ray_already_runs() -> None:
    # the running Ray used to be taken whatever the address: the work ran on the wrong cluster
    import ray

    from headwise.distributed import ray_session

    current = ray.get_runtime_context().gcs_address
    host, port = current.rsplit(":", 1)
    with pytest.raises(InputError, match=r"already running in this process, connected to .*"
                                         r"not to the cluster at 10\.255\.0\.1:6379"):
        with ray_session("10.255.0.1:6379"):
            pass
    for same in (current, f"localhost:{port}" if host == "127.0.0.1" else current, "auto"):
        with ray_session(same) as r:  # the running Ray's own address (or auto) is fine
            assert r.is_initialized()

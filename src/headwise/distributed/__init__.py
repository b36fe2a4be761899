"""Scale out on Ray: the same embed → statistics → head path across workers and machines.

Needs the optional extra ``pip install 'headwise[ray]'``; importing this package does not
import Ray. Embedding reads with Ray Data and encodes on an actor pool, and the driver writes the
vectors into the embedding store (a rerun, or a single-machine run, hits the same rows).
Fitting accumulates :class:`~headwise.heads.SufficientStats` per block, merges them with ``+``
and solves the head on the driver; the logistic probe gets data-parallel gradients.

>>> from headwise.distributed import embed_table, fit_head_ray, ray_stats
"""

from __future__ import annotations

from ._embed import EmbedResult, EncoderActor, embed_inputs, embed_source, embed_table
from ._fit import RAY_HEADS, fit_head_ray, fit_inputs_ray
from ._parallel_rows import RayRowSource, RaySoftmaxProblem
from ._read import DigestItem, RaySource, from_inputs, read_image_folder, read_table
from ._session import ray_session, require_ray
from ._stats import StatsAggregate, embedding_dataset, ray_stats

__all__ = [
    "DigestItem",
    "EmbedResult",
    "EncoderActor",
    "RAY_HEADS",
    "RayRowSource",
    "RaySoftmaxProblem",
    "RaySource",
    "StatsAggregate",
    "embed_inputs",
    "embed_source",
    "embed_table",
    "embedding_dataset",
    "fit_head_ray",
    "fit_inputs_ray",
    "from_inputs",
    "ray_session",
    "ray_stats",
    "read_image_folder",
    "read_table",
    "require_ray",
]

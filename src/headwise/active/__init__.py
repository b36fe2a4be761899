"""Active selection: which unlabelled rows to label next.

One function per strategy, all batch-mode and seeded, with memory linear in the pool size (no
n × n matrices): random, least confidence, margin, entropy, greedy k-center coreset in
embedding space, PCoreSet (k-center in the student's probability space) and a class-balance
wrapper after PCB. :func:`select_batch` dispatches by name.
"""

from ._balance import class_balanced
from ._coreset import coreset, k_center_greedy, nearest_center_distances, pcoreset
from ._select import STRATEGIES, select_batch
from ._uncertainty import (
    entropy,
    entropy_scores,
    least_confidence,
    least_confidence_scores,
    margin,
    margin_scores,
    random_query,
)

__all__ = [
    "STRATEGIES",
    "class_balanced",
    "coreset",
    "entropy",
    "entropy_scores",
    "k_center_greedy",
    "least_confidence",
    "least_confidence_scores",
    "margin",
    "margin_scores",
    "nearest_center_distances",
    "pcoreset",
    "random_query",
    "select_batch",
]

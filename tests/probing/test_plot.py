"""One sweep plot for both kinds of sweep results, written through the atomic writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from headwise import probing
from headwise.probing import plot_sweep
from headwise.protocols import RunRecord, SweepResult
from headwise.protocols import plot_sweep as protocols_plot_sweep


def test_layer_results_draw_as_lines(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    assert protocols_plot_sweep is plot_sweep
    assert SweepResult is probing.SweepResult  # one result type for both sweeps
    r = SweepResult.from_grid("layers", "enc", "lda", None, (0, 1, 2), ("mean",), np.c_[[0.5, 0.7, 0.9]],
                              np.c_[[0.4, 0.6, 0.8]], 10, 5, 5, record=RunRecord("sweep", None, "x", (0,), {}))
    assert r.best_layer == 2 and r.layers == (0, 1, 2)
    for arg, name in (([r], "list.png"), (r, "one.png")):
        out = plot_sweep(arg, tmp_path / name)
        assert out.read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

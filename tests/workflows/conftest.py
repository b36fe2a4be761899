from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from cli_helpers import toy_rows  # noqa: E402


@pytest.fixture
def toy_table(tmp_path: Path):
    from headwise.datasets import load_table

    p = tmp_path / "toy.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in toy_rows(n_per_class=60)))
    return load_table(p)

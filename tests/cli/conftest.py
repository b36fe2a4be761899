from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import toy_rows


@pytest.fixture
def toy_jsonl(tmp_path: Path) -> Path:
    p = tmp_path / "toy.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in toy_rows()))
    return p

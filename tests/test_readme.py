"""The README's Python blocks run as written, in order, in one namespace (like a reader would)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_blocks() -> None:
    assert len(python_blocks()) >= 2


@pytest.mark.slow
def test_readme_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("transformers")
    from headwise.encoders import describe_encoders

    if not next(r for r in describe_encoders() if r["name"] == "minilm")["available"]:
        pytest.skip("the minilm weights are not installed")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    ray_too = os.environ.get("HEADWISE_TEST_RAY") == "1"
    for i, block in enumerate(python_blocks()):
        if "headwise.distributed" in block and not ray_too:
            continue  # starts a local Ray (minutes on a small machine): HEADWISE_TEST_RAY=1 runs it
        try:
            exec(compile(block, f"README.md python block {i + 1}", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the message says which block failed
            pytest.fail(f"README python block {i + 1} failed: {type(exc).__name__}: {exc}")

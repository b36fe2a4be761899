"""`headwise serve` fails in one line, exit 1, before binding a port when it cannot serve."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

from cli_helpers import one_error_line, run_cli  # noqa: E402

from headwise.cli.main import app  # noqa: E402

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _serve(*args: str) -> str:
    """In process (the real subprocess path is checked once below): exit 1, one line."""
    result = CliRunner().invoke(app, ["serve", *args])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


def test_refuses_to_start_writable_without_a_token(
    models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HEADWISE_SERVE_TOKEN", raising=False)
    line = one_error_line(run_cli("serve", str(models_dir), env={"PYTHONPATH": SRC, "HEADWISE_SERVE_TOKEN": ""}))
    assert "--token-file" in line and "--read-only" in line
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    assert "is empty" in _serve(str(models_dir), "--token-file", str(empty))
    assert "cannot be read" in _serve(str(models_dir), "--token-file", str(tmp_path / "missing"))


def test_bad_folder_and_options(tmp_path: Path) -> None:
    assert "does not exist" in _serve(str(tmp_path / "nowhere"), "--read-only")
    assert "no *.safetensors" in _serve(str(tmp_path), "--read-only")
    assert "--port" in _serve(str(tmp_path), "--read-only", "--port", "0")
    assert "conformal_method" in _serve(str(tmp_path), "--read-only", "--method", "nope")


def test_help_says_how_to_serve_elsewhere() -> None:
    out = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "120"}).output
    assert "--host" in out and "--port" in out and "127.0.0.1" in out


def test_a_file_for_a_folder_and_a_taken_port(models_dir: Path, tmp_path: Path) -> None:
    """A port another server holds (or a host this machine lacks) is one line before any model
    loads; uvicorn used to log the OS error and exit 3 after loading them."""
    import socket

    data = tmp_path / "data.jsonl"
    data.write_text("{}\n")
    assert "is a file" in _serve(str(data), "--read-only")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _serve(str(models_dir), "--read-only", "--port", str(port))
    assert f"Cannot listen on 127.0.0.1:{port}" in line and "another --port" in line

"""Running the CLI for the battery (in-process or as another user) and inspecting the disk."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from cli_helpers import toy_rows  # noqa: E402

__all__ = ["HINT", "Outcome", "run_in_process", "run_subprocess", "snapshot", "temp_files", "toy_rows"]

HINT = "(set HEADWISE_DEBUG=1"


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    exception: BaseException | None


def run_in_process(args: list[str], env: dict[str, str]) -> Outcome:
    from typer.testing import CliRunner

    from headwise.cli.main import app

    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        result = CliRunner().invoke(app, args, catch_exceptions=True)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    exc = result.exception if not isinstance(result.exception, SystemExit) else None
    return Outcome(result.exit_code, result.stdout, result.stderr, exc)


NO_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search",
          "--inh-caps=-dac_override,-dac_read_search", "--"]


def run_subprocess(args: list[str], env: dict[str, str], *, obey_permissions: bool = False) -> Outcome:
    """Run the CLI in a subprocess; ``obey_permissions`` drops root's power to ignore mode bits
    (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so a read-only folder is read-only even for root."""
    src = str(Path(__file__).resolve().parents[2] / "src")
    full = {**os.environ, **env, "PYTHONPATH": src}
    prefix = NO_DAC if obey_permissions else []
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "headwise.cli.main", *args],
        capture_output=True, text=True, env=full, timeout=300, cwd="/",
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr, None)


def snapshot(root: Path, skip: Path) -> dict[str, bytes | str]:
    """Every path under ``root`` (outside ``skip``) with its bytes (files) or kind."""
    out: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        d = Path(dirpath)
        if d == skip or skip in d.parents:
            dirnames[:] = []
            continue
        for name in dirnames:
            p = d / name
            out[str(p.relative_to(root))] = "link" if p.is_symlink() else "dir"
        for name in filenames:
            p = d / name
            rel = str(p.relative_to(root))
            out[rel] = "link" if p.is_symlink() else p.read_bytes()
    return out


def temp_files(root: Path) -> list[str]:
    return sorted(
        str(p) for p in root.rglob("*") if p.name.startswith(".") and p.name.endswith(".tmp")
    )



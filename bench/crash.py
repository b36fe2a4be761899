"""Crash harness: kill -9 an embed at random moments, resume, and check nothing was lost or bent.

Usage: python bench/crash.py [--trials 16] [--rows 3000] [--seed 0] [--quick] [--out crash|-]

Every trial starts an embed of the first ``--rows`` texts of 20 Newsgroups with the ``hash:384``
encoder into a fresh cache, in a child process that logs how many rows its encoder has returned,
kills it with SIGKILL at a uniformly random moment of the (measured) run time, then resumes it
to completion. Reported per trial: rows committed at the kill, rows encoded but lost (encoded
by the killed run, not committed: the store's bound is one shard, 256 rows), rows the resume
encoded, whether the resumed vectors are bitwise identical to an uninterrupted run, and whether
`cache verify` is clean without `--repair`. A disk-full trial (where a tmpfs can be mounted)
embeds through the CLI into a tmpfs too small for the vectors, checks the one-line error and a
clean cache, grows the tmpfs and resumes.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import SHARED_DATA, command, machine, md_table, write_fragment

ENCODER = "hash:384"


def child(cache: str, rows_file: str, log_file: str) -> None:
    """The process that gets killed: an embed whose encoder logs every batch it returns."""
    from headwise.encoders import get_encoder
    from headwise.store import EmbeddingStore

    texts = json.loads(Path(rows_file).read_text())
    enc = get_encoder(ENCODER)
    log = open(log_file, "a", buffering=1)  # noqa: SIM115 - kept open until the kill

    class Logged:
        name, dim, pooling = enc.name, enc.dim, getattr(enc, "pooling", "mean")

        def key(self) -> dict[str, Any]:
            return enc.key()

        def encode(self, inputs: Any, **kw: Any) -> Any:
            out = enc.encode(inputs, **kw)
            log.write(f"{len(inputs)}\n")
            return out

    EmbeddingStore(cache).get_or_compute(Logged(), texts, progress=False)


def _spawn(cache: Path, rows_file: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, __file__, "--child", str(cache), str(rows_file), str(log)],
        env={**os.environ, "HEADWISE_PROGRESS": "0"},
    )


def _logged(log: Path) -> int:
    return sum(int(x) for x in log.read_text().split()) if log.exists() else 0


def _vectors(cache: Path, texts: list[str]) -> Any:
    from headwise.encoders import get_encoder
    from headwise.store import EmbeddingStore

    found = EmbeddingStore(cache).lookup(get_encoder(ENCODER), texts)
    return None if found is None else found.to_numpy()


def _rows_in(cache: Path) -> int:
    from headwise.store import EmbeddingStore

    return sum(e.n for e in EmbeddingStore(cache).entries()) if cache.exists() else 0


def _clean(cache: Path) -> bool:
    from headwise.store import EmbeddingStore

    return all(r.ok for r in EmbeddingStore(cache).verify())


def trial(i: int, rng: random.Random, tmp: Path, rows_file: Path, texts: list[str],
          ref: Any, full_s: float) -> list[Any]:
    cache, log = tmp / f"trial-{i}", tmp / f"trial-{i}.log"
    proc = _spawn(cache, rows_file, log)
    wait = rng.uniform(0.05, 0.95) * full_s
    time.sleep(wait)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    encoded, committed = _logged(log), _rows_in(cache)
    log2 = tmp / f"trial-{i}-resume.log"
    resume = _spawn(cache, rows_file, log2)
    code = resume.wait()
    got = _vectors(cache, texts)
    same = code == 0 and got is not None and got.tobytes() == ref.tobytes()
    return [i + 1, round(wait, 2), "yes" if killed else "finished first", committed,
            max(0, encoded - committed), _logged(log2), "yes" if same else "NO",
            "yes" if _clean(cache) else "NO"]


def disk_full(tmp: Path, texts: list[str], ref: Any) -> list[str]:
    """Embed through the CLI into a tmpfs too small, then grow it and resume."""
    mnt = tmp / "tiny"
    mnt.mkdir()
    need = len(texts) * 384 * 4
    size = max(64 * 1024, need // 2)
    if os.geteuid() != 0 or subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True
    ).returncode:
        return ["disk full", "skipped: cannot mount a tmpfs here"]
    try:
        data = tmp / "rows.jsonl"
        data.write_text("".join(json.dumps({"text": t, "label": 0}) + "\n" for t in texts))
        env = {**os.environ, "HEADWISE_CACHE_DIR": str(mnt / "cache"), "HEADWISE_PROGRESS": "0"}
        cli = [sys.executable, "-m", "headwise.cli.main", "embed", str(data), "--encoder", ENCODER]
        full = subprocess.run(cli, capture_output=True, text=True, env=env)
        lines = [ln for ln in full.stderr.splitlines() if ln.strip()]
        one_line = full.returncode == 1 and "Traceback" not in full.stderr and len(lines) == 2
        kept, clean_full = _rows_in(mnt / "cache"), _clean(mnt / "cache")
        subprocess.run(["mount", "-o", f"remount,size={need * 4 + (8 << 20)}", str(mnt)], check=True)
        again = subprocess.run(cli, capture_output=True, text=True, env=env)
        got = _vectors(mnt / "cache", texts)
        same = again.returncode == 0 and got is not None and got.tobytes() == ref.tobytes()
        return [
            "disk full",
            f"tmpfs of {size // 1024} KiB for {need // 1024} KiB of vectors: exit {full.returncode}, "
            f"{'one line' if one_line else 'NOT one line'} ({lines[0][:90] if lines else ''}...); "
            f"{kept} rows kept, verify {'clean' if clean_full else 'NOT clean'}; after growing "
            f"the tmpfs the resume {'is bitwise identical' if same else 'DIFFERS'} and verify is "
            f"{'clean' if _clean(mnt / 'cache') else 'NOT clean'}",
        ]
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--child", nargs=3)
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default="crash")
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.quick:
        args.trials, args.rows, args.out = 3, 800, "crash-quick"
    with gzip.open(SHARED_DATA / "20newsgroups.jsonl.gz", "rt") as fh:
        texts = [json.loads(line)["text"] for _, line in zip(range(args.rows), fh, strict=False)]
    tmp = Path(tempfile.mkdtemp(prefix="headwise-crash-"))
    try:
        rows_file = tmp / "rows.json"
        rows_file.write_text(json.dumps(texts))
        t0 = time.perf_counter()
        assert _spawn(tmp / "reference", rows_file, tmp / "ref.log").wait() == 0
        full_s = time.perf_counter() - t0
        ref = _vectors(tmp / "reference", texts)
        rng = random.Random(args.seed)
        rows = [trial(i, rng, tmp, rows_file, texts, ref, full_s) for i in range(args.trials)]
        extra = disk_full(tmp, texts, ref)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    killed = [r for r in rows if r[2] == "yes"]
    summary = {
        "trials": len(rows),
        "killed": len(killed),
        "bitwise_identical": sum(r[6] == "yes" for r in rows),
        "verify_clean": sum(r[7] == "yes" for r in rows),
        "max_rows_lost": max((r[4] for r in rows), default=0),
        "disk_full": extra[1],
    }
    text = "\n".join([
        "## Crash safety: kill -9 during an embed, then resume\n",
        f"Command: `{command()}`. {machine()}\n",
        f"{args.rows} texts of 20 Newsgroups, encoder `{ENCODER}`; an uninterrupted run took "
        f"{full_s:.1f} s (the kill moment is uniform over it). Rows lost = rows the killed run's "
        "encoder returned that were not committed (the store commits every shard of at most 256 "
        "rows with its index rows in one SQLite transaction).\n",
        f"**{summary['trials']} trials ({summary['killed']} killed mid-run): "
        f"{summary['bitwise_identical']} bitwise identical after resume, "
        f"{summary['verify_clean']} with `cache verify` clean without `--repair`, at most "
        f"{summary['max_rows_lost']} rows of work lost.**\n",
        md_table(["trial", "kill at s", "killed", "rows committed", "rows lost",
                  "rows the resume encoded", "bitwise identical", "verify clean"], rows),
        f"\nDisk-full trial: {extra[1]}.\n",
    ])
    if args.out != "-":
        write_fragment(args.out, text)
    print(text)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

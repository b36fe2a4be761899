"""MLP vs logistic vs LDA (optionally the linear SVM) on the shared text, image and audio sets.

    python bench/mlp.py [--data trec,sst2,banking77,emotion,20newsgroups,cifar10,mnist,fsdd]
                        [--seeds 3] [--quick] [--render-only]

Embeddings (all through the EmbeddingStore, so a rerun only fits heads):
- text: MiniLM (all-MiniLM-L6-v2) on the official train/test splits (SST-2's dev rows unused);
- images: MobileNetV2 (ImageNet) on the stratified CIFAR-10 / MNIST subsamples of
  ``bench/media.py`` (``--image-train`` / ``--image-test``, default 2000 / 1000, seed 0: the
  same rows, so its cache entries hit);
- audio: Whisper base encoder on FSDD, official split (2700 train / 300 test clips).

Every head is fitted on the same train rows and scored on the same test rows. Each head picks
its own settings on a holdout of the train rows (MLP: width/lr/weight decay with early stopping;
logistic and SVM: C; LDA: shrinkage in closed form). The run is repeated over ``--seeds`` seeds
(``random_state`` of the heads that take one: MLP initialisation, batches and holdout; the
logistic and SVM holdouts); LDA is deterministic. Reported per head: mean test accuracy over
seeds with the 95% t-interval over seeds, and a 95% bootstrap interval over test rows (2000
resamples of the test rows, the same resamples for every head, of each row's correctness
averaged over seeds), plus the paired bootstrap interval of MLP − logistic.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, SHARED_DATA, command, machine, md_table, write_fragment  # noqa: E402

from headwise._atomic import write_json  # noqa: E402

HEADS = ("lda", "logistic", "mlp")  # --heads lda,logistic,svm,mlp adds the linear SVM (slow on 2 cores)
TEXT = ("trec", "sst2", "banking77", "emotion", "20newsgroups")
MEDIA = {"cifar10": ("mobilenetv2", "CIFAR-10"), "mnist": ("mobilenetv2", "MNIST"), "fsdd": ("whisper-base", "FSDD")}
STATE = RESULTS / "mlp.json"


def load(name: str, quick: bool, image_sizes: tuple[int, int] = (2000, 1000)) -> tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Encoder name and ``(X_train, y_train, X_test, y_test)`` of one data set."""
    if name in TEXT:
        from headwise.datasets import load_table
        from headwise.workflows import embed_texts

        table = load_table(SHARED_DATA / f"{name}.jsonl.gz")
        emb = embed_texts(table.texts, "minilm", {}, batch_size=64)
        tr, te = table.split_indices("train"), table.split_indices("test")
        y = np.asarray(table.labels)
        if quick:
            tr, te = tr[:600], te[:300]
        return "minilm", emb.X[tr], y[tr], emb.X[te], y[te]
    import media
    from headwise.encoders import get_encoder

    enc_name, _ = MEDIA[name]
    n_tr, n_te = (60, 30) if quick else image_sizes
    if name == "fsdd":
        tr, ytr, te, yte = media.fsdd(60 if quick else 2700)
    else:
        tr, ytr, te, yte = (media.cifar if name == "cifar10" else media.mnist)(n_tr, n_te)
    enc = get_encoder(enc_name)
    Xtr, _ = media.embed(enc, tr, 32)
    Xte, _ = media.embed(enc, te, 32)
    return enc_name, Xtr, np.asarray(ytr), Xte, np.asarray(yte)


def run_one(name: str, seeds: int, quick: bool, heads: tuple[str, ...] = HEADS,
            image_sizes: tuple[int, int] = (2000, 1000)) -> dict[str, Any]:  # fmt: skip
    from headwise.heads import get_head

    enc, Xtr, ytr, Xte, yte = load(name, quick, image_sizes)
    out: dict[str, Any] = {"encoder": enc, "n_train": int(len(ytr)), "n_test": int(len(yte)), "heads": {}}
    for h in heads:
        correct, secs, chosen = [], [], []
        for s in range(1 if h == "lda" else seeds):
            params = {} if h == "lda" else {"random_state": s}
            if quick and h == "mlp":
                params.update(max_epochs=5, param_grid={})
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                head = get_head(h, **params).fit(Xtr, ytr)
            secs.append(time.perf_counter() - t0)
            correct.append((head.predict(Xte) == yte).astype(np.int8).tolist())
            pick = getattr(head, "best_params_", None) or {
                k: getattr(head, k) for k in ("C_", "shrinkage_") if hasattr(head, k)
            }
            chosen.append(json.loads(json.dumps(pick, default=float)))
            print(name, h, s, f"{100 * np.mean(correct[-1]):.2f}%", f"{secs[-1]:.1f}s", chosen[-1], flush=True)
        out["heads"][h] = {"correct": correct, "seconds": secs, "chosen": chosen}
    out["command"], out["machine"] = command(), machine()
    return out


def t_interval(v: np.ndarray) -> float:
    """Half-width of the 95% t-interval of the mean of ``v`` (0 for one value)."""
    from scipy import stats

    if v.size < 2:
        return 0.0
    return float(stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))


def summarise(res: dict[str, Any], n_boot: int = 2000) -> list[list[Any]]:
    heads = res["heads"]
    n = res["n_test"]
    boot = np.random.default_rng(0).integers(0, n, size=(n_boot, n))
    per_row = {h: np.mean(np.asarray(v["correct"], dtype=float), axis=0) for h, v in heads.items()}
    rows = []
    for h, v in heads.items():
        accs = 100 * np.mean(np.asarray(v["correct"], dtype=float), axis=1)
        lo, hi = np.percentile(100 * per_row[h][boot].mean(axis=1), [2.5, 97.5])
        diff = ""
        if h != "logistic" and "logistic" in per_row:
            d = 100 * (per_row[h][boot] - per_row["logistic"][boot]).mean(axis=1)
            d0 = 100 * float(np.mean(per_row[h] - per_row["logistic"]))
            dlo, dhi = np.percentile(d, [2.5, 97.5])
            diff = f"{d0:+.2f} [{dlo:+.2f}, {dhi:+.2f}]"
        spread = f"± {t_interval(accs):.2f}" if accs.size > 1 else "–"
        rows.append([h, len(accs), f"{accs.mean():.2f}", spread, f"[{lo:.2f}, {hi:.2f}]",
                     diff, float(np.median(v["seconds"])), _chosen(v["chosen"])])  # fmt: skip
    return rows


def _chosen(chosen: list[dict[str, Any]]) -> str:
    def fmt(d: dict[str, Any]) -> str:
        shown = {k: v for k, v in d.items() if k not in ("dropout", "hidden_layers")}  # not searched
        return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items())

    uniq = list(dict.fromkeys(fmt(c) for c in chosen))
    return "; ".join(uniq) if uniq != [""] else "–"


def render(saved: dict[str, Any]) -> str:
    order = [d for d in (*TEXT, *MEDIA) if d in saved]
    missing = [d for d in (*TEXT, *MEDIA) if d not in saved]
    rows = []
    for d in order:
        r = saved[d]
        label = {"cifar10": "CIFAR-10", "mnist": "MNIST", "fsdd": "FSDD"}.get(d, d)
        for row in summarise(r):
            rows.append([label, r["encoder"], f"{r['n_train']}/{r['n_test']}", *row])
    cmds = sorted({saved[d]["command"] for d in order})
    base = sorted({saved[d]["machine"].split("; load average")[0] for d in order})
    loads = ", ".join(f"{d} {saved[d]['machine'].rsplit('at start ', 1)[-1].split(',')[0]}" for d in order)
    machines = [*(b + "." for b in base), f"1-minute load average at the start of each data set: {loads}."]
    return (
        "## MLP vs logistic vs LDA (text, image and audio sets)\n\n"
        "Commands: " + "; ".join(f"`{c}`" for c in cmds) + ".\n\n" + "\n\n".join(machines) + "\n\n"
        "Same train and test rows for every head. Text: MiniLM on the official splits. Images: "
        "ImageNet MobileNetV2 on stratified subsamples (those of `bench/media.py`, seed 0; sizes in "
        "the train/test column). Audio: "
        "Whisper base on FSDD's official split. Each head picks its settings on its own holdout "
        "of the train rows (MLP: width/lr/weight decay with early stopping, then a refit on all "
        "train rows; logistic (and SVM where listed): C; LDA: OAS shrinkage in closed form). "
        "Repeated over seeds (`random_state` of the MLP and logistic heads; LDA is deterministic "
        "and runs once). "
        "acc: mean test accuracy % over seeds, with the 95% t-interval over seeds (– for one run). "
        "test-row 95% CI: "
        "bootstrap over test rows (2000 resamples, shared by all heads) of each row's correctness "
        "averaged over seeds. vs logistic: paired difference in points with its bootstrap 95% "
        "interval. fit s: median seconds per fit (2 shared cores; the MLP's includes its grid).\n\n"
        + md_table(["data", "encoder", "train/test", "head", "seeds", "acc %", "± 95% over seeds",
                    "test-row 95% CI", "vs logistic, points [95% CI]", "fit s", "chosen"], rows)
        + "\n"
        + (f"\nNot measured yet: {', '.join(missing)} (`python bench/mlp.py --data "
           f"{','.join(missing)}`).\n" if missing else "")
    )  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=",".join((*TEXT, *MEDIA)))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--heads", default=",".join(HEADS))
    ap.add_argument("--image-train", type=int, default=2000, help="CIFAR-10/MNIST train subsample")
    ap.add_argument("--image-test", type=int, default=1000, help="CIFAR-10/MNIST test subsample")
    ap.add_argument("--quick", action="store_true", help="smoke run: few rows, short MLP, no files")
    ap.add_argument("--render-only", action="store_true")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on busy cores)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    saved = json.loads(STATE.read_text()) if STATE.exists() and not args.quick else {}
    if not args.render_only:
        for d in args.data.split(","):
            if d not in TEXT and d not in MEDIA:
                raise SystemExit(f"unknown data set {d!r}; choose from {', '.join((*TEXT, *MEDIA))}")
            saved[d] = run_one(d, 1 if args.quick else args.seeds, args.quick, tuple(args.heads.split(",")),
                               (args.image_train, args.image_test))  # fmt: skip
            if not args.quick:
                fresh = json.loads(STATE.read_text()) if STATE.exists() else {}  # other runs' sets
                write_json(STATE, {**fresh, d: saved[d]})
                saved = {**fresh, **saved}
    text = render(saved)
    if args.quick:
        print(text)
        return
    print("wrote", write_fragment("mlp", text))


if __name__ == "__main__":
    main()

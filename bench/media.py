"""Linear and 16-shot probes on frozen image and audio encoders: CIFAR-10, MNIST, FSDD.

Usage: python bench/media.py [--quick] [--n-train 500] [--n-test 300] [--fsdd-train 600] [--threads 1]

Image datasets are subsampled (stratified, seed 0) to keep a 2-core run in minutes; FSDD uses the
official test split (300 clips) and a stratified subsample of train. Embeddings go through the
EmbeddingStore ($HEADWISE_CACHE_DIR), so a rerun only fits heads; throughput is measured by the
run that computes them (kept in bench/results/media*.json; a rerun on cached rows keeps the
rows of the earlier run's file and reports nan for its own).

Probes on each (encoder, dataset):
- linear: headwise LDAHead and LogisticHead, and scikit-learn LogisticRegression(max_iter=1000) on
  standardised features, all fitted on the whole train subsample;
- 16-shot, MTEB style: 10 experiments, each shuffling train (seed i), taking the first 16 examples
  per class and fitting LogisticRegression(max_iter=100); mean and std of test accuracy.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, SHARED_DATA, command, machine, md_table, write_fragment  # noqa: E402

ANCHORS = {
    "CIFAR-10": "MTEB 16-shot, CLIP ViT-B/32: 89.85",
    "MNIST": "MTEB 16-shot, CLIP ViT-B/32: 89.47",
    "FSDD": "HuBERT-base: 93.73",
}


def stratified(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` indices with classes as balanced as possible, in a seeded random order."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    per = {c: rng.permutation(np.flatnonzero(y == c)) for c in classes}
    k = max(1, n // len(classes))
    idx = np.concatenate([per[c][:k] for c in classes])
    return np.sort(idx)


def cifar(n_train: int, n_test: int) -> tuple[list, np.ndarray, list, np.ndarray]:
    from headwise.media import ImageItem

    path = SHARED_DATA / "cifar10_jpg.zip"
    out = []
    with zipfile.ZipFile(path) as z:
        names = sorted(n for n in z.namelist() if n.endswith(".jpg"))
        for split, n in (("train", n_train), ("test", n_test)):
            members = [m for m in names if m.startswith(f"{split}/")]
            labels = np.array([m.split("/")[1] for m in members])
            idx = stratified(labels, n, seed=0)
            items = [ImageItem(source=f"{path}:{members[i]}", data=z.read(members[i])) for i in idx]
            out += [items, labels[idx]]
    return out[0], out[1], out[2], out[3]


def mnist(n_train: int, n_test: int) -> tuple[list, np.ndarray, list, np.ndarray]:
    from headwise.media import ImageItem

    out = []
    with np.load(SHARED_DATA / "mnist.npz") as d:
        for split, n in (("train", n_train), ("test", n_test)):
            x, y = d[f"x_{split}"], d[f"y_{split}"]
            idx = stratified(y, n, seed=0)
            out += [[ImageItem.from_array(x[i], source=f"mnist:{split}[{i}]") for i in idx], y[idx]]
    return out[0], out[1], out[2], out[3]


def fsdd(n_train: int) -> tuple[list, np.ndarray, list, np.ndarray]:
    from headwise.media import load_audio

    t = load_audio(SHARED_DATA / "fsdd.npz")
    tr, te = t.split_indices("train"), t.split_indices("test")
    tr = tr[stratified(t.labels[tr], n_train, seed=0)]
    return [t.texts[i] for i in tr], t.labels[tr], [t.texts[i] for i in te], t.labels[te]


def embed(encoder, items: list, batch_size: int) -> tuple[np.ndarray, float]:
    """Embeddings through the store, and items/s when this call computed them.

    The rate is ``nan`` when the first row was already cached (a rerun, or one resuming an
    interrupted run, which fills rows in order): the store keeps rows, not per-run timings.
    """
    import time

    from headwise.store import EmbeddingStore

    store = EmbeddingStore()
    cached_any = store.lookup(encoder, items[:1]) is not None
    if not cached_any:
        encoder.encode(items[:2], batch_size=2, progress=False)  # load and warm up first
    t0 = time.perf_counter()
    es = store.get_or_compute(encoder, items, batch_size=batch_size)
    seconds = time.perf_counter() - t0
    return es.to_numpy(), float("nan") if cached_any else len(items) / seconds


def probes(Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, yte: np.ndarray, shots: int,
           experiments: int) -> dict[str, float]:  # fmt: skip
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from headwise.heads import get_head

    res: dict[str, float] = {}
    for name in ("lda", "logistic"):
        res[name] = float(get_head(name).fit(Xtr, ytr).score(Xte, yte))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter convergence warnings, as in MTEB
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        res["sklearn"] = float(clf.fit(Xtr, ytr).score(Xte, yte))
        accs = []
        for seed in range(experiments):
            order = np.random.default_rng(seed).permutation(len(ytr))
            picked = np.concatenate([order[ytr[order] == c][:shots] for c in np.unique(ytr)])
            few = LogisticRegression(max_iter=100).fit(Xtr[picked], ytr[picked])
            accs.append(few.score(Xte, yte))
    res["fewshot_mean"], res["fewshot_std"] = float(np.mean(accs)), float(np.std(accs))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: 40 train / 20 test, no files")
    ap.add_argument("--n-train", type=int, default=500)
    ap.add_argument("--n-test", type=int, default=300)
    ap.add_argument("--fsdd-train", type=int, default=600)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--only", default="mobilenetv2,efficientnet-lite0,whisper-base")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on busy cores)")
    ap.add_argument("--state", default="media", help="rows go to bench/results/<state>.json")
    ap.add_argument("--render-only", action="store_true", help="rewrite media.md from the saved rows")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.quick:
        args.n_train, args.n_test, args.fsdd_train = 40, 20, 40
    from headwise.encoders import get_encoder

    wanted = args.only.split(",")
    jobs = [(e, d) for e in ("mobilenetv2", "efficientnet-lite0") for d in ("CIFAR-10", "MNIST")]
    jobs += [("whisper-base", "FSDD")]
    jobs = [(e, d) for e, d in jobs if e in wanted]
    state_file = RESULTS / f"{args.state}.json"
    saved: dict[str, list] = {}
    commands: dict[str, str] = {}
    if args.render_only:
        jobs = []
    data_cache: dict[str, tuple] = {}
    for enc_name, ds in jobs:
        if ds not in data_cache:
            data_cache[ds] = {"CIFAR-10": lambda: cifar(args.n_train, args.n_test),
                              "MNIST": lambda: mnist(args.n_train, args.n_test),
                              "FSDD": lambda: fsdd(args.fsdd_train)}[ds]()  # fmt: skip
        tr, ytr, te, yte = data_cache[ds]
        enc = get_encoder(enc_name)
        Xtr, s1 = embed(enc, tr, args.batch_size)
        Xte, s2 = embed(enc, te, args.batch_size)
        speed = (len(tr) + len(te)) / (len(tr) / s1 + len(te) / s2)
        res = probes(Xtr, ytr, Xte, yte, shots=16, experiments=10)
        print(enc_name, ds, {k: round(v, 4) for k, v in res.items()}, f"{speed:.2f}/s", flush=True)
        saved[f"{enc_name}/{ds}"] = [enc_name, ds, f"{len(tr)}/{len(te)}", 100 * res["lda"],
                                     100 * res["logistic"], 100 * res["sklearn"],
                                     f"{100 * res['fewshot_mean']:.2f} ± {100 * res['fewshot_std']:.2f}",
                                     speed, ANCHORS[ds]]  # fmt: skip
        commands[f"{enc_name}/{ds}"] = command()
    if not args.quick:  # rows of every invocation (bench/results/media*.json), newest file last
        if not args.render_only:
            state_file.write_text(json.dumps({"rows": saved, "commands": commands}, indent=1, sort_keys=True))
        for f in sorted(RESULTS.glob("media*.json"), key=lambda f: f.stat().st_mtime):
            state = json.loads(f.read_text())
            saved = {**saved, **state.get("rows", {})}
            commands = {**commands, **state.get("commands", {})}
    order = [f"{e}/{d}" for e in ("mobilenetv2", "efficientnet-lite0") for d in ("CIFAR-10", "MNIST")]
    order.append("whisper-base/FSDD")
    rows = [saved[k] for k in order if k in saved]
    used = sorted(set(commands[k] for k in order if k in commands))
    text = "\n".join([
        "## Images and audio: linear and 16-shot probes\n",
        "Commands (embeddings cached in `$HEADWISE_CACHE_DIR`; throughput from the run that "
        "computed them): " + "; ".join(f"`{c}`" for c in used) + ".\n",
        machine() + "\n",
        "Subsamples are stratified (seed 0), sizes per row (train/test); FSDD's test set is the "
        "official 300 clips. The image subsamples keep a 2-core run in minutes; the machine was "
        "shared with other jobs during these runs (the test suite of another checkout ran beside "
        "them), so throughput is below an idle machine's (ASSETS.md: 35-54 img/s MobileNetV2, 19-27 EfficientNet-Lite0, 18-30 "
        "clips/s Whisper on 2 idle cores). Encoders: ImageNet MobileNetV2 and EfficientNet-Lite0 "
        "(1280-d, global mean pool of the last stage, 224x224 after resize 256 / centre crop), "
        "Whisper base encoder (statistics pooling: mean and std over time, 1024-d). Linear heads "
        "fit on the whole train subsample (sklearn LogReg: StandardScaler + "
        "LogisticRegression(max_iter=1000)); 16-shot = LogisticRegression(max_iter=100) on 16 "
        "examples per class drawn from shuffled train, mean ± std over 10 experiments, scored on "
        "the whole test subsample. Accuracies in %.\n",
        md_table(["encoder", "dataset", "train/test", "LDAHead", "LogisticHead",
                  "sklearn LogReg", "16-shot LogReg", "items/s", "published anchor (other encoders)"],
                 rows),  # fmt: skip
        "\nThe anchors use larger encoders and the full test sets; they give scale, not a like-for-"
        f"like comparison. Throughput: CPU torch with {args.threads} thread(s), batch "
        f"{args.batch_size}, channels_last, including JPEG decoding and resizing (images); "
        "CTranslate2 float32, one thread, one clip at a time, including resampling and log-mel "
        "features (audio).\n",
    ])  # fmt: skip
    if args.quick:
        print(text)
        return
    print("wrote", write_fragment("media", text))


if __name__ == "__main__":
    main()

"""Multi-label heads on GoEmotions and Reuters-21578 (MiniLM embeddings) vs sklearn's one-vs-rest.

    python bench/multilabel.py [--data goemotions,reuters21578] [--quick]

Per data set, one seeded split of the train rows: 80% to fit every head (ours and
``OneVsRestClassifier(LogisticRegression())`` on the same rows, same run), 20% to calibrate the
conformal label sets. Test rows: micro/macro-F1, mAP, subset accuracy, Hamming loss, and the
false-negative rate / mean size of the CRC sets at α = 0.1 and 0.2 (per-label LAC coverage too).
``reuters21578`` keeps every ModApte row (rows without any of the 90 topics count as
all-negative, and do not enter the FNR); ``reuters21578-r90`` keeps only rows with at least one
of the 90 topics (the usual ApteMod "R90" setup of the published figures: 7770 / 3019 rows).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, SHARED_DATA, command, machine, md_table, write_fragment  # noqa: E402

from headwise._atomic import write_json  # noqa: E402
from headwise.datasets import load_table  # noqa: E402
from headwise.heads import get_head  # noqa: E402
from headwise.heads._mlbase import random_holdout  # noqa: E402
from headwise.heads._mltargets import align_targets, multilabel_targets  # noqa: E402
from headwise.trust import (  # noqa: E402
    MultiLabelConformal,
    false_negative_rate,
    multilabel_metrics,
)
from headwise.workflows import embed_texts  # noqa: E402

HEADS = ("mlridge", "mllogistic", "mlknn")
ALPHAS = (0.1, 0.2)


def _sklearn_ovr(X: np.ndarray, Y: np.ndarray) -> object:
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    return OneVsRestClassifier(LogisticRegression(max_iter=1000)).fit(X, Y)


def run(name: str, quick: bool, heads: tuple[str, ...] = (*HEADS, "sklearn-ovr-logreg")) -> list[list[object]]:
    base, r90 = (name[: -len("-r90")], True) if name.endswith("-r90") else (name, False)
    table = load_table(SHARED_DATA / f"{base}.jsonl.gz")
    emb = embed_texts(table.texts, "minilm", {}, batch_size=64)
    tr, te = table.split_indices("train"), table.split_indices("test")
    if r90:  # rows with at least one topic
        tr = tr[[len(table.labels[i]) > 0 for i in tr]]
        te = te[[len(table.labels[i]) > 0 for i in te]]
    if quick:
        tr, te = tr[:3000], te[:1000]
    lists = [list(v) for v in table.labels]
    split = random_holdout(tr.size, 0.2, 0)
    assert split is not None
    fit_idx, cal_idx = tr[split[0]], tr[split[1]]
    Y_fit, classes = multilabel_targets([lists[i] for i in fit_idx])
    rows: list[list[object]] = []

    def targets(idx: np.ndarray) -> np.ndarray:
        Y, cl = multilabel_targets([[v for v in lists[i] if v in set(classes.tolist())] for i in idx])
        return align_targets(Y, cl, classes)

    Y_cal, Y_te = targets(cal_idx), targets(te)
    X = emb.X
    for head_name in heads:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if head_name.startswith("sklearn"):
                est = _sklearn_ovr(X[fit_idx], Y_fit)
                secs = time.perf_counter() - t0
                S_te = est.decision_function(X[te])
                P_te = est.predict(X[te])
                S_cal = est.decision_function(X[cal_idx])
            else:
                est = get_head(head_name).fit(X[fit_idx], Y_fit)
                secs = time.perf_counter() - t0
                S_te, P_te, S_cal = est.logits(X[te]), est.predict(X[te]), est.logits(X[cal_idx])
        m = multilabel_metrics(Y_te, P_te, scores=S_te)
        conf = MultiLabelConformal.from_calibration(None, S_cal, Y_cal, "crc")
        cells = []
        for a in ALPHAS:
            sets = S_te >= conf.thresholds(a)
            cells += [false_negative_rate(sets, Y_te), float(sets.sum(axis=1).mean())]
        lac = MultiLabelConformal.from_calibration(None, S_cal, Y_cal, "lac")
        hit = (S_te >= lac.thresholds(0.1)) & (Y_te > 0)
        per = hit.sum(axis=0) / np.maximum((Y_te > 0).sum(axis=0), 1)
        rows.append([name, head_name, m.micro_f1, m.macro_f1, m.mean_average_precision,
                     m.subset_accuracy, m.hamming_loss, *cells,
                     float(np.mean(per[(Y_te > 0).sum(axis=0) > 0])), secs])  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    import json

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="goemotions,reuters21578,reuters21578-r90")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--heads", default=",".join((*HEADS, "sklearn-ovr-logreg")),
                    help="rerun only these; the saved rows of the others are kept")  # fmt: skip
    args = ap.parse_args()
    heads = tuple(args.heads.split(","))
    name = "multilabel-quick" if args.quick else "multilabel"
    store = RESULTS / f"{name}.json"  # rows per data set, so data sets can run separately
    saved = json.loads(store.read_text()) if store.exists() else {}
    for data in args.data.split(","):
        t0 = time.perf_counter()
        rows = run(data, args.quick, heads)
        rec = {"rows": rows, "command": command(), "seconds": time.perf_counter() - t0, "machine": machine()}
        # re-read: runs for other data sets may have written meanwhile; replace atomically
        saved = json.loads(store.read_text()) if store.exists() else {}
        old = saved.get(data)
        if old is not None and set(heads) != {r[1] for r in old["rows"]}:  # a partial rerun
            kept = [r for r in old["rows"] if r[1] not in heads]
            rec["rows"] = sorted(rows + kept, key=lambda r: [*HEADS, "sklearn-ovr-logreg"].index(r[1]))
            rec["command"] = f"{old['command']}; then {rec['command']}"
        saved = {**saved, data: rec}
        write_json(store, saved)
    cols = ["data", "head", "micro-F1", "macro-F1", "mAP", "subset acc", "Hamming",
            "FNR α=.1", "set size α=.1", "FNR α=.2", "set size α=.2", "LAC label cov. α=.1", "fit s"]  # fmt: skip
    runs = "\n".join(f"- {d}: `{v['command']}` ({v['seconds']:.0f} s). {v['machine']}" for d, v in saved.items())
    text = (
        "## Multi-label heads (GoEmotions, Reuters-21578)\n\n"
        f"Commands:\n{runs}\n\n"
        "MiniLM (all-MiniLM-L6-v2) embeddings. Every head is fitted on the same 80% of the train "
        "rows (seed 0); the other 20% calibrate the conformal sets. Our heads tune per-label "
        "thresholds for F1 on out-of-fold logits of the fit rows (10 folds; a cut whose F1 is "
        "below 0.1 falls back to the label's top score, SCutFBR.1); sklearn's one-vs-rest "
        "`LogisticRegression()` thresholds at p = 0.5. FNR: mean fraction of a test row's true "
        "labels missing from its CRC set (target ≤ α; rows without labels left out). LAC label "
        "cov.: mean over labels of the fraction of true test labels kept at α = 0.1 (target "
        "≥ 0.9). `reuters21578`: every ModApte row (9603 / 3299; rows without any of the 90 "
        "topics are all-negative); `reuters21578-r90`: rows with a topic only (7770 / 3019, the "
        "setup of the published figures). Published (not re-run): GoEmotions BERT-base macro-F1 "
        "0.46; Reuters ApteMod 90 categories SVM micro/macro-F1 0.860/0.525 (Yang & Liu 1999, "
        "TF-IDF features).\n\n"
        + md_table(cols, [r for v in saved.values() for r in v["rows"]]) + "\n"
    )
    print(write_fragment(name, text))


if __name__ == "__main__":
    main()

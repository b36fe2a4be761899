"""Long-tailed Banking77 and 20 Newsgroups (MiniLM embeddings): corrections vs sklearn's balanced LR.

    python bench/longtail.py [--data banking77,20newsgroups] [--ratios 10,100] [--seeds 3]

The train split is cut to an exponential profile with imbalance ratio R (seeded; class order
random per seed); the test split is untouched (about balanced). Accuracy overall and on the
classes with many (> 100), medium (20–100) and few (< 20) training rows, mean over seeds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, SHARED_DATA, command, machine, md_table, write_fragment  # noqa: E402

from headwise.datasets import load_table  # noqa: E402
from headwise.heads import get_head  # noqa: E402
from headwise.protocols import long_tail_eval  # noqa: E402
from headwise.workflows import embed_texts  # noqa: E402


def heads() -> dict[str, object]:
    from sklearn.linear_model import LogisticRegression

    return {
        "logistic": get_head("logistic"),
        "logistic balanced_softmax": get_head("logistic", loss="balanced_softmax"),
        "logitadjust (logistic)": get_head("logitadjust"),
        "lda": get_head("lda"),
        "lda uniform priors": get_head("lda", priors="uniform"),
        "sklearn LR class_weight=balanced": LogisticRegression(class_weight="balanced", max_iter=1000),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="banking77,20newsgroups")
    ap.add_argument("--ratios", default="10,100")
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    store = RESULTS / "longtail.json"
    saved = json.loads(store.read_text()) if store.exists() else {}
    for name in args.data.split(","):
        table = load_table(SHARED_DATA / f"{name}.jsonl.gz")
        emb = embed_texts(table.texts, "minilm", {}, batch_size=64)
        tr, te = table.split_indices("train"), table.split_indices("test")
        y = table.labels
        for R in (float(r) for r in args.ratios.split(",")):
            t0 = time.perf_counter()
            res = long_tail_eval(heads(), emb.X[tr], y[tr], emb.X[te], y[te], imbalance=R,
                                 seeds=args.seeds, encoder_key=emb.encoder_key)  # fmt: skip
            g = res.n_classes_per_group
            rows = [[f"{name}-LT", f"{R:g}", f"{g['many']}/{g['medium']}/{g['few']}", h,
                     100 * r.overall.mean, 100 * r.overall.ci95, 100 * r.many.mean,
                     100 * r.medium.mean, 100 * r.few.mean, r.fit_seconds]
                    for h, r in res.heads.items()]  # fmt: skip
            saved[f"{name}@{R:g}"] = {"rows": rows, "command": command(), "machine": machine(),
                                      "seconds": time.perf_counter() - t0}  # fmt: skip
            store.write_text(json.dumps(saved, indent=1))
            for r in rows:
                print(r, flush=True)
    cols = ["data", "R", "classes many/med/few", "head", "overall %", "±95%", "many %", "medium %",
            "few %", "fit s"]  # fmt: skip
    runs = "\n".join(f"- {k}: `{v['command']}` ({v['seconds']:.0f} s). {v['machine']}" for k, v in saved.items())
    text = (
        "## Long-tailed classification (Banking77-LT, 20 Newsgroups-LT)\n\n"
        f"Commands:\n{runs}\n\n"
        f"MiniLM embeddings; {args.seeds} seeds (long-tailed train split and class order per seed), "
        "test split untouched. Many/medium/few: test accuracy on the classes with > 100, 20–100, "
        "< 20 training rows (empty groups give nan). `logitadjust` subtracts τ·log π from the "
        "logistic head's logits, τ chosen by balanced accuracy on a class-balanced holdout; "
        "`balanced_softmax` trains on logits + log π. sklearn: `LogisticRegression("
        "class_weight=\"balanced\", max_iter=1000)` on the raw embeddings.\n\n"
        + md_table(cols, [r for v in saved.values() for r in v["rows"]]) + "\n"
    )
    print(write_fragment("longtail", text))


if __name__ == "__main__":
    main()

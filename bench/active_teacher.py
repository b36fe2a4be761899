"""DHO's teacher moved toward the pool, and why DHO stays near the teacher on Emotion (issue #15)

    python bench/active_teacher.py [--sets trec,emotion,banking77,sst2,20newsgroups] [--seeds 3]

(teacher) The zero-shot head's test accuracy before and after its class vectors are moved toward
the unlabelled train pool (:func:`headwise.heads._teacher.pool_prototypes`: each class vector
becomes the unit mean of ``(1 − w)·name + w·pool centroid``, the centroid weighted by the
teacher's probabilities), at the default ``w = 0.5`` and one step, and next to it the settings
around the default (w = 0.3 and 0.7; three steps) to show the gain does not hinge on them. SST-2
and 20 Newsgroups are not among the issue's three sets: they check the idea where it was not
looked at first. No label is used.

(emotion) Why DHO barely moves off the teacher on Emotion: the labels-only head on k labels per
class (drawn evenly, as the DHO bench draws them) against the same head with its probabilities
multiplied by the pool's true class mix (an oracle DHO does not have), and a head on 6·k rows
drawn at random (the natural mix). Writes the `teacher` section of bench/results/active.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, command, machine, md_table, replace_section  # noqa: E402

from active import HEADER, ce_only, load  # noqa: E402
from headwise._atomic import atomic_write  # noqa: E402
from headwise.heads._teacher import pool_prototypes, prototype_probabilities  # noqa: E402
from headwise.protocols import sample_per_class, summarize  # noqa: E402

OUT = RESULTS / "active.md"


def moved_accuracy(d: dict, weight: float, steps: int) -> float:
    """Test accuracy of the zero-shot head after ``steps`` pool steps at ``weight``."""
    zs = d["teacher"]
    W, P = zs.coef_, zs.predict_proba(d["Xtr"])
    for _ in range(steps):
        W = pool_prototypes(d["Xtr"], P, zs.coef_, weight)  # the prior stays the names
        P = prototype_probabilities(d["Xtr"], W, zs.scale)
    pred = zs.classes_[prototype_probabilities(d["Xte"], W, zs.scale).argmax(axis=1)]
    return 100 * float(np.mean(pred == d["yte"]))


def part_teacher(sets: list[str]) -> str:
    settings = [(0.5, 1), (0.3, 1), (0.7, 1), (0.5, 3)]
    rows = []
    for name in sets:
        d = load(name)
        zs = 100 * d["teacher"].score(d["Xte"], d["yte"])
        accs = [moved_accuracy(d, w, s) for w, s in settings]
        rows.append([name, f"{zs:.2f}", *(f"{a:.2f} ({a - zs:+.2f})" for a in accs)])
        print(rows[-1], flush=True)
    cols = ["data", "zero-shot", "moved, w 0.5, 1 step (default)", "w 0.3", "w 0.7", "w 0.5, 3 steps"]
    return md_table(cols, rows)


def part_emotion(seeds: int) -> str:
    from sklearn.linear_model import LogisticRegression

    d = load("emotion")
    classes = np.unique(d["ytr"])
    mix = np.array([np.mean(d["ytr"] == c) for c in classes])
    rows = []
    for k in (1, 2, 4, 8):
        even, plain, oracle, natural = [], [], [], []
        for s in range(seeds):
            lab = sample_per_class(d["ytr"], k, s)
            even.append(100 * np.mean(ce_only(d["Xtr"][lab], d["ytr"][lab], s)(d["Xte"]) == d["yte"]))
            m = LogisticRegression(C=1.0, max_iter=3000).fit(d["Xtr"][lab], d["ytr"][lab])
            P = m.predict_proba(d["Xte"])
            plain.append(100 * np.mean(m.classes_[P.argmax(axis=1)] == d["yte"]))
            oracle.append(100 * np.mean(m.classes_[(P * mix).argmax(axis=1)] == d["yte"]))
            rand = np.random.default_rng(s).choice(d["ytr"].size, k * classes.size, replace=False)
            if np.unique(d["ytr"][rand]).size > 1:
                m = LogisticRegression(C=1.0, max_iter=3000).fit(d["Xtr"][rand], d["ytr"][rand])
                natural.append(100 * m.score(d["Xte"], d["yte"]))
        cells = [f"{m:.2f} ± {h:.2f}" for m, h in (summarize(v) for v in (even, plain, oracle, natural))]
        rows.append(["emotion", k, *cells])
        print(rows[-1], flush=True)
    cols = ["data", "labels/class", "labels-only head (DHO bench's baseline)", "logistic",
            "logistic × true class mix (oracle)", "logistic on 6·k random rows"]  # fmt: skip
    return md_table(cols, rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="trec,emotion,banking77,sst2,20newsgroups")
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    t0 = time.perf_counter()
    teacher = part_teacher(args.sets.split(","))
    emotion = part_emotion(args.seeds)
    body = (
        f"### The teacher moved toward the pool, and Emotion's labels\n\nCommand: `{command()}` "
        f"({time.perf_counter() - t0:.0f} s)\n\n{machine()}\n\n" + teacher
        + "\n\nTest accuracy in % (in brackets: against the zero-shot head). w: weight of the "
        "pool centroid in each class vector; steps: soft k-means steps, the names' vectors the "
        "prior of each. No label is used; SST-2 and 20 Newsgroups are outside the issue's three "
        "sets.\n\n" + emotion
        + f"\n\nEmotion, mean ± 95% t-interval over {args.seeds} seeds. The labels-only head is "
        "the DHO bench's baseline (even draw, λ by CV); the logistic columns (scikit-learn, C = 1, "
        "the same evenly drawn rows; then its probabilities times the pool's true class mix; "
        "then as many rows drawn at random) show where its weakness comes from: an even draw on "
        "a skewed pool (joy 34%, surprise 4%) predicts at a uniform prior, and the true mix, "
        "which no estimate from the teacher or a few labels recovers (`classmix` section), is "
        "worth the gap between the `logistic` and the oracle column."
    )
    text = OUT.read_text() if OUT.exists() else HEADER
    atomic_write(OUT, replace_section(text, "part", "teacher", body), what="Results fragment")
    print(body)


if __name__ == "__main__":
    main()

"""`headwise eval --protocol ...` and `headwise sweep`: the evaluation protocols on a table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from ..datasets import load_table
from ..exceptions import InputError
from ._common import (
    BatchOpt,
    DataArg,
    EncoderOpt,
    JsonOpt,
    LabelColOpt,
    MaxLenOpt,
    PoolingOpt,
    SplitColOpt,
    TextColOpt,
    console,
    embed_texts,
    encoder_options,
    handle_errors,
    print_json,
    print_table,
)

PROTOCOLS = (
    "linear", "fewshot", "incremental", "transductive", "zeroshot", "active", "longtail",
)

ProtocolOpt = Annotated[
    str | None,
    typer.Option("--protocol", help=f"Evaluation protocol: {', '.join(PROTOCOLS)}."),
]
HeadsOpt = Annotated[
    str | None, typer.Option("--heads", help="Comma list of heads (default depends on the protocol).")
]
ShotsOpt = Annotated[str, typer.Option("--shots", help="Few-shot: labelled rows per class, e.g. 1,2,4,8.")]
SeedsOpt = Annotated[int, typer.Option("--seeds", help="Number of seeds (0..N-1).")]
TasksOpt = Annotated[int, typer.Option("--tasks", help="Incremental: number of tasks.")]
PresetOpt = Annotated[
    str | None, typer.Option("--preset", help="Few-shot preset: 'mteb' reproduces MTEB's protocol.")
]
DropOpt = Annotated[
    bool, typer.Option("--drop-overlap", help="Linear: drop test rows that also occur in train.")
]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Run directory for <protocol>.json.")]
StrategiesOpt = Annotated[
    str, typer.Option("--strategies", help="Active: comma list, e.g. random,entropy,coreset,pcoreset.")
]
RoundsOpt = Annotated[int, typer.Option("--rounds", help="Active: rounds of queries.")]
BudgetOpt = Annotated[
    int | None, typer.Option("--budget", help="Active: rows queried per round (default: classes).")
]
StartOpt = Annotated[
    int, typer.Option("--start", help="Active: labels per class at the start (0: zero-shot start).")
]
ImbalanceOpt = Annotated[
    float | None,
    typer.Option("--imbalance", help="Long-tail: train on a seeded exponential-profile split with this ratio (e.g. 10, 100)."),
]
TransOpt = Annotated[
    bool, typer.Option("--transductive", help="Few-shot: also score each head's transductive refinement.")
]

_DEFAULT_HEADS = {
    "linear": "ncm,lda,ridge,logistic",
    "fewshot": "ncm,lda,ridge,logistic",
    "incremental": "ncm,lda,ridge,rpridge",
    "transductive": "ncm",
    "longtail": "lda,logistic,logitadjust",
}


def _splits(table: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if table.splits is None:
        raise InputError(
            f"{table.path.name} has no split column; protocols need 'train' and 'test' splits "
            "(pass --split-col)."
        )
    tr, va, te = (table.split_indices(s) for s in ("train", "validation", "test"))
    for name, idx in (("train", tr), ("test", te)):
        if idx.size == 0:
            raise InputError(
                f"{table.path.name} has no '{name}' rows; splits present: "
                f"{', '.join(table.available_splits()) or 'none'}."
            )
    return tr, va, te


def _ints(text: str, what: str) -> list[int]:
    try:
        out = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        out = []
    if not out or min(out) < 1:
        raise InputError(f"{what} must be a comma list of positive ints such as 1,2,4. Got {text!r}.")
    return out


def _write(out: Path | None, name: str, payload: dict[str, Any]) -> None:
    if out is None:
        return
    from ..protocols import write_json_atomic

    path = write_json_atomic(out / f"{name}.json", payload)
    console.print(f"wrote {path}", style="dim")


def run_protocol(
    data: Path, protocol: str, *, heads: str | None, shots: str, seeds: int, tasks: int,
    preset: str | None, drop_overlap: bool, transductive: bool, out: Path | None, encoder: str,
    text_col: str | None, label_col: str | None, split_col: str | None, options: dict[str, Any],
    batch_size: int, as_json: bool, active: dict[str, Any] | None = None,
    imbalance: float | None = None,
) -> None:
    """Embed DATA through the cache, run ``protocol`` and print / write its result."""
    from .. import protocols as P

    if protocol not in PROTOCOLS:
        raise InputError(f"Unknown protocol '{protocol}'. Available: {', '.join(PROTOCOLS)}.")
    if preset is not None and preset != "mteb":
        raise InputError(f"Unknown preset '{preset}'. Available: mteb.")
    if seeds < 1:
        raise InputError(f"--seeds must be at least 1. Got {seeds} instead.")
    if imbalance is not None and protocol == "linear":
        protocol = "longtail"  # `--protocol linear --imbalance R`: the linear protocol, long-tailed
    if protocol == "longtail" and imbalance is None:
        raise InputError("--protocol longtail needs --imbalance R (e.g. 10 or 100).")
    if imbalance is not None and protocol != "longtail":
        raise InputError(f"--imbalance applies to --protocol longtail (or linear), not {protocol}.")
    table = load_table(data, text_col=text_col, label_col=label_col, split_col=split_col)
    table.require_single_label()
    tr, va, te = _splits(table)
    y = table.labels
    assert y is not None
    emb = embed_texts(table.texts, encoder, options, batch_size=batch_size)
    X, key = emb.X, emb.encoder_key
    meta = {"dataset": table.path.name, "encoder": encoder}
    head_list = heads or _DEFAULT_HEADS.get(protocol, "ncm")
    if protocol == "linear":
        texts = np.asarray(table.texts, dtype=object)
        keys = P._common.row_keys(texts=list(texts))
        res = P.linear_eval(
            head_list, X[tr], y[tr], X[te], y[te],
            X_val=X[va] if va.size else None, y_val=y[va] if va.size else None,
            train_keys=keys[tr], val_keys=keys[va] if va.size else None, test_keys=keys[te],
            drop_overlap=drop_overlap, seeds=range(seeds), encoder_key=key,
        )
        payload = res.to_json(**meta)
        rows = [[n, r.val_accuracy, r.test_accuracy, r.test.ci95, r.macro_f1, r.fit_seconds,
                 ", ".join(f"{k}={v}" for k, v in r.chosen.items()) or "–"]
                for n, r in res.heads.items()]
        title = f"linear evaluation on {table.path.name} ({res.n_test} test rows"
        title += f", {res.n_dropped_overlap} overlapping dropped)" if res.n_dropped_overlap else ")"
        cols = ["head", "val acc", "test acc", "±95%", "macro-F1", "fit s", "chosen"]
        _emit(out, "linear", payload, title, cols, rows, as_json)
    elif protocol in ("fewshot", "transductive") and preset == "mteb":
        spl = P.mteb_samples_per_label(table.path.name)
        res_m = P.mteb_eval(X[tr], y[tr], X[te], y[te], samples_per_label=spl,
                            heads=heads or "ncm,lda,ridge,logistic", encoder_key=key)
        payload = res_m.to_json(**meta)
        rows = [[n, 100 * s.mean, 100 * s.ci95, 100 * min(s.per_seed), 100 * max(s.per_seed)]
                for n, s in res_m.heads.items()]
        title = (f"MTEB protocol on {table.path.name}: {spl} per label, "
                 f"{res_m.n_experiments} experiments (accuracy %)")
        _emit(out, "fewshot", payload, title, ["head", "mean", "±95%", "min", "max"], rows, as_json)
    elif protocol in ("fewshot", "transductive"):
        fn = P.transductive_eval if (protocol == "transductive" or transductive) else P.few_shot_eval
        res_f = fn(head_list, X[tr], y[tr], X[te], y[te], shots=_ints(shots, "--shots"),
                   seeds=seeds, encoder_key=key)
        payload = res_f.to_json(**meta)
        payload["protocol"] = "fewshot"
        if fn is P.transductive_eval:
            payload["transductive"] = True
        k_list = next(iter(res_f.heads.values())).shots
        rows = [[n, *(f"{m:.4f} ± {c:.4f}" for m, c in zip(cv.mean, cv.ci95, strict=True))]
                for n, cv in res_f.heads.items()]
        title = f"{protocol} on {table.path.name}: test accuracy, {seeds} seeds"
        name = "transductive" if protocol == "transductive" else "fewshot"
        _emit(out, name, payload, title, ["head", *(f"{k}-shot" for k in k_list)], rows, as_json)
    elif protocol == "active":
        from ._active import active_rows, run_active

        payload = {**meta, **run_active(X, y, tr, te, key=key, encoder=encoder, options=options,
                                        head=heads, seeds=seeds, **(active or {}))}
        _emit(out, "active", payload, *active_rows(payload), as_json)
    elif protocol == "incremental":
        res_i = P.class_incremental_eval(head_list, X[tr], y[tr], X[te], y[te], n_tasks=tasks,
                                         seeds=range(seeds), encoder_key=key)
        payload = res_i.to_json(**meta)
        rows = [[n, c.average, c.final, c.forgetting,
                 " ".join(f"{v:.3f}" for v in c.accuracy_after_task)]
                for n, c in res_i.heads.items()]
        title = f"class-incremental on {table.path.name}: {tasks} tasks, no stored examples"
        _emit(out, "incremental", payload, title,
              ["head", "average", "final", "forgetting", "accuracy after each task"], rows, as_json)
    elif protocol == "longtail":
        assert imbalance is not None
        res_l = P.long_tail_eval(head_list, X[tr], y[tr], X[te], y[te], imbalance=imbalance,
                                 seeds=range(seeds), encoder_key=key)
        payload = res_l.to_json(**meta)
        g = res_l.n_classes_per_group
        rows = [[n, r.overall.mean, r.many.mean, r.medium.mean, r.few.mean, r.fit_seconds]
                for n, r in res_l.heads.items()]
        title = (f"long-tailed {table.path.name}, imbalance {imbalance:g} ({g['many']} many / "
                 f"{g['medium']} medium / {g['few']} few-shot classes), test accuracy, {seeds} seeds")
        _emit(out, "longtail", payload, title, ["head", "overall", "many", "medium", "few", "fit s"],
              rows, as_json)
    else:  # zeroshot
        from ..encoders import get_encoder

        res_z = P.zero_shot_eval(get_encoder(encoder, **options), X[te], y[te],
                                 labels=np.unique(y))
        payload = res_z.to_json(**meta)
        rows = [[table.path.name, res_z.n_test, len(res_z.class_names), res_z.accuracy,
                 res_z.macro_f1]]
        _emit(out, "zeroshot", payload, f"zero-shot ({encoder}, {len(res_z.templates)} templates)",
              ["dataset", "n", "classes", "accuracy", "macro-F1"], rows, as_json)


def _emit(out: Path | None, name: str, payload: dict[str, Any], title: str, cols: list[str],
          rows: list[list[Any]], as_json: bool) -> None:
    _write(out, name, payload)
    if as_json:
        print_json(payload)
    else:
        print_table(title, cols, rows)


@handle_errors
def sweep(
    data: DataArg,
    layers: Annotated[str, typer.Option("--layers", help="'all' or a comma list such as 0,3,6.")] = "all",
    head: Annotated[str, typer.Option("--head", help="Head(s) fitted per layer, e.g. lda or lda,ridge.")] = "lda",
    plot: Annotated[Path | None, typer.Option("--plot", help="Save accuracy by layer as a PNG.")] = None,
    out: OutOpt = None,
    encoder: EncoderOpt = "minilm",
    text_col: TextColOpt = None,
    label_col: LabelColOpt = None,
    split_col: SplitColOpt = None,
    pooling: PoolingOpt = None,
    max_length: MaxLenOpt = None,
    batch_size: BatchOpt = 64,
    as_json: JsonOpt = False,
) -> None:
    """Accuracy of a head at every layer of a transformer encoder (one forward pass, cached)."""
    from ..encoders import get_encoder
    from ..protocols import embed_layers, layer_sweep_eval, plot_sweep, resolve_layers

    if plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise InputError("--plot needs matplotlib: pip install headwise[plot]") from None
    table = load_table(data, text_col=text_col, label_col=label_col, split_col=split_col)
    table.require_single_label()
    tr, va, te = _splits(table)
    enc = get_encoder(encoder, **encoder_options(None, pooling, max_length))
    wanted = resolve_layers(enc, layers)
    by_layer = embed_layers(enc, table.texts, wanted, batch_size=batch_size)
    names = [h.strip() for h in head.split(",") if h.strip()]
    results = [
        layer_sweep_eval(h, by_layer, table.labels, train_idx=tr, test_idx=te,
                         val_idx=va if va.size else None, encoder_key=enc.key_for_layer(wanted[-1]))
        for h in names
    ]
    first = results[0]
    payload = first.to_json(dataset=table.path.name, encoder=encoder)
    payload["heads"] = {r.head: {"val_accuracy": list(r.val_accuracy),
                                 "test_accuracy": list(r.test_accuracy),
                                 "best_layer": r.best_layer} for r in results}
    _write(out, "sweep", payload)
    if plot is not None:
        plot_sweep(results, plot)
        console.print(f"wrote {plot}", style="dim")
    if as_json:
        print_json(payload)
        return
    cols = ["layer"] + [f"{r.head} {s}" for r in results for s in ("val", "test")]
    rows = [[layer] + [v for r in results for v in (r.val_accuracy[i], r.test_accuracy[i])]
            for i, layer in enumerate(first.layers)]
    print_table(f"layer sweep on {table.path.name} ({encoder})", cols, rows)

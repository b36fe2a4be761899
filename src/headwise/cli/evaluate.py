"""`headwise eval --protocol NAME`: run an evaluation protocol on a table.

``eval --model`` (score a saved head) is kept as a spelling of ``headwise score``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..exceptions import InputError
from ..workflows import (
    EvalRequest,
    encoder_options,
    evaluate,
    head_encoder,
    list_protocols,
    load_inputs,
    score_head,
)
from ._options import (
    DEFAULT_ENCODER,
    BatchOpt,
    DataArg,
    DropOverlapOpt,
    DropUnlabeledOpt,
    EncodingOpt,
    HeadsOpt,
    JsonOpt,
    LabelColOpt,
    LayerOpt,
    MaxLenOpt,
    OnErrorOpt,
    PoolingOpt,
    PrecisionOpt,
    RunDirOpt,
    SplitColOpt,
    TextColOpt,
    WideOpt,
    ints,
    refuse,
)
from ._views import show_eval, show_score

ProtocolOpt = Annotated[
    str | None,
    typer.Option("--protocol", help="linear, fewshot, incremental, transductive, zeroshot, ood or active."),
]


def evaluate_cmd(
    data: DataArg,
    protocol: ProtocolOpt = None,
    head: HeadsOpt = None,
    shots: Annotated[str, typer.Option("--shots", help="Few-shot: labelled rows per class, e.g. 1,2,4,8.")] = "1,2,4,8,16",
    seeds: Annotated[int, typer.Option("--seeds", help="Number of seeds (0..N-1).")] = 10,
    tasks: Annotated[int, typer.Option("--tasks", help="Incremental: number of tasks.")] = 10,
    preset: Annotated[
        str | None, typer.Option("--preset", help="Few-shot preset: 'mteb' reproduces MTEB's protocol.")
    ] = None,
    drop_overlap: DropOverlapOpt = False,
    transductive: Annotated[
        bool, typer.Option("--transductive", help="Few-shot: also score each head's transductive refinement.")
    ] = False,
    strategies: Annotated[
        str, typer.Option("--strategies", help="Active: comma list, e.g. random,entropy,coreset,pcoreset.")
    ] = "random,entropy,coreset,pcoreset",
    rounds: Annotated[int, typer.Option("--rounds", help="Active: rounds of queries.")] = 5,
    budget: Annotated[
        int | None, typer.Option("--budget", help="Active: rows queried per round (default: classes).")
    ] = None,
    start: Annotated[
        int, typer.Option("--start", help="Active: labels per class at the start (0: zero-shot start).")
    ] = 1,
    imbalance: Annotated[
        float | None,
        typer.Option("--imbalance", help="Long-tail: train on a seeded exponential-profile split with this ratio (e.g. 10, 100)."),
    ] = None,
    run_dir: RunDirOpt = None,
    out: Annotated[Path | None, typer.Option("--out", hidden=True, help="Refused: use --run-dir.")] = None,
    model: Annotated[
        Path | None, typer.Option("--model", "-m", help="Score a saved head instead (= `headwise score`).")
    ] = None,
    split: Annotated[str | None, typer.Option("--split", help="With --model: split to score.")] = None,
    encoder: Annotated[
        str | None, typer.Option("--encoder", "-e", help=f"Encoder id (default {DEFAULT_ENCODER}).")
    ] = None,
    text_col: TextColOpt = None,
    label_col: LabelColOpt = None,
    split_col: SplitColOpt = None,
    layer: LayerOpt = None,
    pooling: PoolingOpt = None,
    max_length: MaxLenOpt = None,
    precision: PrecisionOpt = None,
    batch_size: BatchOpt = 64,
    on_error: OnErrorOpt = "fail",
    wide: WideOpt = False,
    as_json: JsonOpt = False,
    drop_unlabeled: DropUnlabeledOpt = False,
    encoding: EncodingOpt = "utf-8",
) -> None:
    """Run an evaluation protocol (--protocol) on DATA; results go to --run-dir/<protocol>.json."""
    if model is not None:
        if protocol is not None or preset is not None or imbalance is not None:
            raise InputError("Pass either --model (score a saved head) or --protocol, not both.")
        refuse("eval --model", head=head, run_dir=run_dir, out=out, transductive=transductive,
               layer=layer, pooling=pooling, max_length=max_length, precision=precision)  # fmt: skip
        table = load_inputs(data, head_encoder(model, encoder), text_col=text_col, label_col=label_col,
                            split_col=split_col, on_error=on_error, drop_unlabeled=drop_unlabeled,
                            encoding=encoding, multilabel=True)  # fmt: skip
        if table.is_multilabel:
            from ._multilabel import score_multilabel

            score_multilabel(model, table, split=split, encoder=encoder, batch_size=batch_size,
                             as_json=as_json)  # fmt: skip
            return
        show_score(score_head(model, table, split=split, encoder=encoder, batch_size=batch_size,
                              drop_overlap=drop_overlap), table, as_json)  # fmt: skip
        return
    if imbalance is not None and protocol in (None, "linear"):
        protocol = "longtail"  # `--imbalance R` alone, or with --protocol linear: long-tailed linear
    if imbalance is not None and protocol != "longtail":
        raise InputError(f"--imbalance applies to --protocol longtail (or linear), not {protocol}.")
    if protocol is None and preset is None:
        raise InputError(
            "Nothing to evaluate: pass --protocol " + "|".join(list_protocols())
            + " (or score a saved head with `headwise score DATA --model HEAD_FILE`)."
        )
    name = protocol or "fewshot"
    refuse(f"eval --protocol {name}", split=split)
    if out is not None:
        raise InputError(f"--out names a file, but eval writes a folder of results: use --run-dir {out}.")
    request = EvalRequest(
        encoder=encoder or DEFAULT_ENCODER, options=encoder_options(layer, pooling, max_length, precision),
        heads=head, shots=ints(shots, "--shots"), seeds=seeds, tasks=tasks, preset=preset,
        drop_overlap=drop_overlap, transductive=transductive, batch_size=batch_size,
        strategies=strategies, rounds=rounds, budget=budget, start=start, imbalance=imbalance,
    )  # fmt: skip
    if name not in list_protocols():
        raise InputError(f"Unknown protocol '{name}'. Available: {', '.join(list_protocols())}.")
    table = load_inputs(data, request.encoder, text_col=text_col, label_col=label_col,
                        split_col=split_col, on_error=on_error, drop_unlabeled=drop_unlabeled,
                        encoding=encoding)  # fmt: skip
    show_eval(evaluate(name, table, request, run_dir=run_dir), as_json, wide=wide, run_dir=run_dir)

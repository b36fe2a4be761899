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
    evaluate,
    head_encoder,
    list_protocols,
    load_inputs,
    score_head,
)
from ._options import (
    DEFAULT_ENCODER,
    ENCODE,
    READ,
    BatchOpt,
    DataArg,
    DataOptions,
    DropOverlapOpt,
    HeadsOpt,
    JsonOpt,
    RunDirOpt,
    WideOpt,
    data_options,
    ints,
    refuse,
)
from ._views import show_eval, show_score

ProtocolOpt = Annotated[
    str | None,
    typer.Option("--protocol", help="linear, fewshot, incremental, transductive, zeroshot, ood or active."),
]

# The protocols each protocol-specific option applies to (refused with one line elsewhere).
PROTOCOL_OPTIONS: dict[str, tuple[str, ...]] = {
    "shots": ("fewshot", "transductive"),
    "seeds": ("linear", "fewshot", "transductive", "incremental", "active", "longtail"),
    "tasks": ("incremental",),
    "preset": ("fewshot",),
    "drop_overlap": ("linear",),
    "transductive": ("fewshot",),
    "strategies": ("active",), "rounds": ("active",), "budget": ("active",), "start": ("active",),
}  # fmt: skip


@data_options(*READ, *ENCODE)
def evaluate_cmd(
    data: DataArg,
    protocol: ProtocolOpt = None,
    head: HeadsOpt = None,
    shots: Annotated[
        str | None, typer.Option("--shots", help="Few-shot: labelled rows per class (default 1,2,4,8,16).")
    ] = None,
    seeds: Annotated[int | None, typer.Option("--seeds", help="Number of seeds, 0..N-1 (default 10).")] = None,
    tasks: Annotated[int | None, typer.Option("--tasks", help="Incremental: number of tasks (default 10).")] = None,
    preset: Annotated[
        str | None, typer.Option("--preset", help="Few-shot preset: 'mteb' reproduces MTEB's protocol.")
    ] = None,
    drop_overlap: DropOverlapOpt = False,
    transductive: Annotated[
        bool, typer.Option("--transductive", help="Few-shot: also score each head's transductive refinement.")
    ] = False,
    strategies: Annotated[
        str | None,
        typer.Option("--strategies", help="Active: comma list (default random,entropy,coreset,pcoreset)."),
    ] = None,
    rounds: Annotated[int | None, typer.Option("--rounds", help="Active: rounds of queries (default 5).")] = None,
    budget: Annotated[
        int | None, typer.Option("--budget", help="Active: rows queried per round (default: classes).")
    ] = None,
    start: Annotated[
        int | None,
        typer.Option("--start", help="Active: labels per class at the start, 0 = zero-shot (default 1)."),
    ] = None,
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
    batch_size: BatchOpt = 64,
    wide: WideOpt = False,
    as_json: JsonOpt = False,
    *,
    opts: DataOptions,
) -> None:
    """Run an evaluation protocol (--protocol) on DATA; results go to --run-dir/<protocol>.json."""
    if model is not None:
        if protocol is not None or preset is not None or imbalance is not None:
            raise InputError("Pass either --model (score a saved head) or --protocol, not both.")
        refuse("eval --model", head=head, run_dir=run_dir, out=out, transductive=transductive,
               shots=shots, seeds=seeds, tasks=tasks, strategies=strategies, rounds=rounds,
               budget=budget, start=start, **opts.encoder_given())  # fmt: skip
        table = load_inputs(data, head_encoder(model, encoder), **opts.reader(), multilabel=True)
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
    if name not in list_protocols():
        raise InputError(f"Unknown protocol '{name}'. Available: {', '.join(list_protocols())}.")
    given = dict(shots=shots, seeds=seeds, tasks=tasks, preset=preset, drop_overlap=drop_overlap,
                 transductive=transductive, strategies=strategies, rounds=rounds, budget=budget, start=start)  # fmt: skip
    refuse(f"eval --protocol {name}", split=split,
           **{k: v for k, v in given.items() if name not in PROTOCOL_OPTIONS.get(k, (name,))})  # fmt: skip
    if out is not None:
        raise InputError(f"--out names a file, but eval writes a folder of results: use --run-dir {out}.")
    settings = {k: v for k, v in given.items() if v is not None}
    if shots is not None:
        settings["shots"] = ints(shots, "--shots")
    request = EvalRequest(encoder=encoder or DEFAULT_ENCODER, options=opts.encoder(), heads=head,
                          batch_size=batch_size, imbalance=imbalance, **settings)  # fmt: skip
    table = load_inputs(data, request.encoder, **opts.reader())
    show_eval(evaluate(name, table, request, run_dir=run_dir), as_json, wide=wide, run_dir=run_dir)

"""Options shared by the commands: one spelling, one help text, one default everywhere.

Rules: ``--out FILE`` is always a file and ``--run-dir DIR`` always a folder; ``--head`` takes
one name or a comma list (``--heads`` is the same option); ``-e`` is the encoder; ``--json``
switches output (and errors) to JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..exceptions import InputError
from ._errors import set_json

DEFAULT_ENCODER = "minilm"  # every command that embeds defaults to this encoder

DataArg = Annotated[
    Path,
    typer.Argument(
        readable=False,  # the reader says what is wrong (permission, folder) in one line, exit 1
        help="CSV, TSV, JSONL (optionally .gz) or Parquet file; for image/audio encoders a folder "
        "of class subfolders, a .zip of one, or .npz/.npy arrays.",
        show_default=False,
    ),
]
EncoderOpt = Annotated[
    str,
    typer.Option(
        "--encoder", "-e",
        help="Encoder id: minilm, hash, hf:<local model dir>, mobilenetv2, efficientnet-lite0, "
        "whisper-base, smollm2; `headwise encoders list` shows all.",
    ),
]  # fmt: skip
EncoderOverride = Annotated[
    str | None,
    typer.Option("--encoder", "-e", help="Override the encoder recorded in the head file."),
]
TextColOpt = Annotated[str | None, typer.Option("--text-col", help="Text column (default: text).")]
LabelColOpt = Annotated[
    str | None, typer.Option("--label-col", help="Label column (default: label_text, else label).")
]
SplitColOpt = Annotated[str | None, typer.Option("--split-col", help="Split column (default: split).")]
LayerOpt = Annotated[
    int | None, typer.Option("--layer", help="Hidden layer to read (default: last; 0 = embeddings).")
]
PoolingOpt = Annotated[
    str | None,
    typer.Option(
        "--pooling",
        help="Text: mean, cls or tokens; image: mean, max or tokens; audio: meanstd, mean or tokens.",
    ),
]
OnErrorOpt = Annotated[
    str,
    typer.Option(
        "--on-error",
        help="Image/audio files that cannot be decoded: fail (default) or skip (counted and listed).",
    ),
]
MaxLenOpt = Annotated[int | None, typer.Option("--max-length", help="Truncate inputs to N tokens.")]
PrecisionOpt = Annotated[
    str | None,
    typer.Option(
        "--precision",
        help="Text encoders: fp32 or int8 (per-channel int8 ONNX on the CPU). Default: what the "
        "encoder picks (minilm: see `headwise encoders list` and the README).",
    ),
]
DropUnlabeledOpt = Annotated[
    bool,
    typer.Option("--drop-unlabeled", help="Leave out rows without a label (counted) instead of refusing the file."),
]
EncodingOpt = Annotated[str, typer.Option("--encoding", help="Text encoding of CSV/TSV/JSONL data (default utf-8).")]
BatchOpt = Annotated[int, typer.Option("--batch-size", help="Inputs per forward pass.")]
RayOpt = Annotated[
    bool, typer.Option("--ray", help="Run on Ray: a local Ray, or the cluster at --ray-address.")
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option("--ray-address", help="Join the Ray cluster at HOST:PORT (implies --ray)."),
]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="Cache storage: float32 or float16.")]
JsonOpt = Annotated[
    bool,
    typer.Option("--json", help="Print JSON instead of a table (errors too).", callback=set_json),
]
WideOpt = Annotated[bool, typer.Option("--wide", help="Show every column, however wide.")]
HeadsOpt = Annotated[
    str | None,
    typer.Option("--head", "--heads", help="One head or a comma list; `headwise heads` lists them."),
]
RunDirOpt = Annotated[
    Path | None, typer.Option("--run-dir", help="Folder for the run's JSON results (created).")
]
DropOverlapOpt = Annotated[
    bool, typer.Option("--drop-overlap", help="Leave out test rows that also occur in train.")
]


def head_names(value: str | None, default: str) -> list[str]:
    """``--head a,b`` → ``["a", "b"]`` (``default`` when not given)."""
    names = [h.strip() for h in (value or default).split(",") if h.strip()]
    if not names:
        raise InputError("--head needs a head name or a comma list such as ncm,lda.")
    return names


def one_head(value: str | None, default: str, command: str) -> str:
    """The single head a command fits; a comma list is refused with one line."""
    names = head_names(value, default)
    if len(names) > 1:
        raise InputError(
            f"`headwise {command}` fits one head; got {len(names)} ({', '.join(names)}). "
            "`headwise quickstart --head a,b` or `headwise eval --protocol linear` compare several."
        )
    return names[0]


def ints(text: str, what: str) -> tuple[int, ...]:
    """``"1,2,4"`` → ``(1, 2, 4)``; positive ints only."""
    try:
        out = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        out = ()
    if not out or min(out) < 1:
        raise InputError(f"{what} must be a comma list of positive ints such as 1,2,4. Got {text!r}.")
    return out


def refuse(command: str, **given: object) -> None:
    """Refuse options that do not apply, with one line naming them (never ignore them)."""
    bad = [name for name, value in given.items() if value not in (None, False, (), [])]
    if bad:
        names = ", ".join("--" + b.replace("_", "-") for b in bad)
        raise InputError(f"{names} do{'es' if len(bad) == 1 else ''} not apply to {command}; drop "
                         f"{'it' if len(bad) == 1 else 'them'}.")  # fmt: skip

"""Options shared by the commands: one spelling, one help text, one default everywhere.

Rules: ``--out FILE`` is always a file and ``--run-dir DIR`` always a folder; ``--head`` takes
one name or a comma list (``--heads`` is the same option); ``-e`` is the encoder; ``--json``
switches output (and errors) to JSON.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ..exceptions import InputError
from ..workflows import encoder_options
from ._errors import set_json

F = TypeVar("F", bound=Callable[..., Any])

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
    bool,
    typer.Option(
        "--ray", help="Run on Ray: the cluster at --ray-address or $RAY_ADDRESS, else a local Ray."
    ),
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
def _run_dir(value: Path | None) -> Path | None:
    """Refuse a --run-dir that exists and is not a folder before any work is done (it failed
    only after the head file was written, with "could not be written (File exists)")."""
    if value is not None and value.exists() and not value.is_dir():
        raise InputError(f"--run-dir {value} is a file; give a folder (it is created if missing).")
    return value


def seed_in_range(value: int) -> int:
    """numpy seeds are 0 .. 2^32 - 1 (outside it: a traceback from deep in the run)."""
    if not 0 <= value < 2**32:
        raise InputError(f"--seed must be a whole number from 0 to {2**32 - 1}. Got {value} instead.")
    return value


RunDirOpt = Annotated[
    Path | None,
    typer.Option("--run-dir", help="Folder for the run's JSON results (created).", callback=_run_dir),
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


@dataclass(frozen=True)
class DataOptions:
    """How a command reads its table and sets up its encoder: the options most commands share.

    A command declares the ones it takes with :func:`data_options` and receives them as one
    ``opts`` argument; the ones it does not take keep their defaults here (never offered).
    """

    text_col: TextColOpt = None
    label_col: LabelColOpt = None
    split_col: SplitColOpt = None
    on_error: OnErrorOpt = "fail"
    drop_unlabeled: DropUnlabeledOpt = False
    encoding: EncodingOpt = "utf-8"
    layer: LayerOpt = None
    pooling: PoolingOpt = None
    max_length: MaxLenOpt = None
    precision: PrecisionOpt = None

    def reader(self) -> dict[str, Any]:
        """Keywords of :func:`headwise.workflows.load_inputs`."""
        return dict(text_col=self.text_col, label_col=self.label_col, split_col=self.split_col,
                    on_error=self.on_error, drop_unlabeled=self.drop_unlabeled, encoding=self.encoding)  # fmt: skip

    def encoder(self) -> dict[str, Any]:
        """The encoder options given (see :func:`headwise.workflows.encoder_options`)."""
        return encoder_options(self.layer, self.pooling, self.max_length, self.precision)

    def encoder_given(self) -> dict[str, Any]:
        """The encoder options by name, for :func:`refuse` where they do not apply."""
        return dict(layer=self.layer, pooling=self.pooling, max_length=self.max_length, precision=self.precision)


READ = ("text_col", "label_col", "split_col", "on_error", "drop_unlabeled", "encoding")
ENCODE = ("layer", "pooling", "max_length", "precision")


def data_options(*names: str) -> Callable[[F], F]:
    """Give a command the shared options ``names`` (fields of :class:`DataOptions`), declared
    once here, and hand them to it as one ``opts: DataOptions`` argument.

    They are listed in the command's help after its own options, in :class:`DataOptions`
    order.
    """
    hints = {f.name: f for f in fields(DataOptions)}
    unknown = [n for n in names if n not in hints]
    if unknown:  # pragma: no cover - a programming error
        raise TypeError(f"not shared options: {unknown}")
    annotations = inspect.get_annotations(DataOptions, eval_str=True)
    shared = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=hints[n].default,
                                annotation=annotations[n]) for n in hints if n in names]  # fmt: skip

    def deco(fn: F) -> F:
        sig = inspect.signature(fn, eval_str=True)
        own = [p for p in sig.parameters.values() if p.name != "opts"]

        @functools.wraps(fn)
        def command(*args: Any, **kwargs: Any) -> Any:
            given = {p.name: kwargs.pop(p.name) for p in shared if p.name in kwargs}
            return fn(*args, opts=DataOptions(**given), **kwargs)

        params = own + shared
        command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command  # type: ignore[return-value]

    return deco

"""The `headwise` command: builds the Typer app from one module per command.

Every command parses its options, calls one workflow (``headwise.workflows``) and renders the
result; errors are mapped in one place, :class:`~headwise.cli._errors.HeadwiseGroup`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from . import cache, encoders
from ._errors import HeadwiseGroup
from ._options import JsonOpt
from ._render import print_json, print_table
from .embed import embed
from .evaluate import evaluate_cmd
from .fit import fit
from .ood import ood
from .predict import predict
from .probe import probe
from .quickstart import quickstart
from .report import report
from .score import score
from .serve import serve

CONTEXT = {"help_option_names": ["-h", "--help"]}


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(__version__)
        raise typer.Exit()


app = typer.Typer(
    name="headwise",
    cls=HeadwiseGroup,
    help="Heads on frozen foundation models: embed once (cached), fit and compare heads in seconds.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings=CONTEXT,
)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the headwise version and exit.", callback=_version,
                     is_eager=True),
    ] = False,
) -> None:
    """Heads on frozen foundation models: embed once (cached), fit and compare heads in seconds."""


app.command("quickstart", context_settings=CONTEXT)(quickstart)
app.command("embed", context_settings=CONTEXT)(embed)
app.command("fit", context_settings=CONTEXT)(fit)
app.command("score", context_settings=CONTEXT)(score)
app.command("eval", context_settings=CONTEXT)(evaluate_cmd)
app.command("predict", context_settings=CONTEXT)(predict)
app.command("probe", context_settings=CONTEXT)(probe)
app.command("sweep", context_settings=CONTEXT, help="Same as `headwise probe` (kept as an alias).")(probe)
app.command("ood", context_settings=CONTEXT)(ood)
app.command("report", context_settings=CONTEXT)(report)
app.command("serve", context_settings=CONTEXT)(serve)
app.add_typer(cache.app, name="cache", context_settings=CONTEXT)
app.add_typer(encoders.app, name="encoders", context_settings=CONTEXT)


@app.command("heads", context_settings=CONTEXT)
def heads(as_json: JsonOpt = False) -> None:
    """List registered heads."""
    from ..heads import get_head_class, list_heads

    names = list_heads()
    if as_json:
        print_json(names)
        return
    print_table("heads", ["head", "class"], [[n, get_head_class(n).__name__] for n in names])


@app.command("version", context_settings=CONTEXT)
def version() -> None:
    """Print the headwise version (same as `headwise --version`)."""
    _version(True)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

"""The `headwise` command: builds the Typer app from one module per command group."""

from __future__ import annotations

import typer

from . import cache, encoders
from ._common import JsonOpt, handle_errors, print_json, print_table
from .embed import embed
from .evaluate import evaluate, predict
from .fit import fit
from .probe import probe
from .protocols import sweep
from .quickstart import quickstart
from .report import report
from .serve import serve
from .trust import ood

app = typer.Typer(
    name="headwise",
    help="Heads on frozen foundation models: embed once (cached), fit and compare heads in seconds.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("quickstart")(quickstart)
app.command("embed")(embed)
app.command("fit")(fit)
app.command("eval")(evaluate)
app.command("predict")(predict)
app.command("sweep")(sweep)
app.add_typer(cache.app, name="cache")
app.command("ood")(ood)
app.command("report")(report)
app.add_typer(encoders.app, name="encoders")
app.command("probe")(probe)
app.command("serve")(serve)


@app.command("heads")
@handle_errors
def heads(as_json: JsonOpt = False) -> None:
    """List registered heads."""
    from ..heads import get_head_class, list_heads

    names = list_heads()
    if as_json:
        print_json(names)
        return
    print_table("heads", ["head", "class"], [[n, get_head_class(n).__name__] for n in names])


@app.command("version")
def version() -> None:
    """Print the headwise version."""
    from .. import __version__

    typer.echo(__version__)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

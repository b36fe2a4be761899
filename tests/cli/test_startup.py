"""The command line starts without loading what its commands run: `headwise --help` and a
cache listing must not pay for scikit-learn, the heads or torch (seconds on a laptop), and the
lazily loaded workflows still hold every name and the built-in protocols."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("sklearn", "torch", "headwise.heads", "headwise.compare")


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout.split()
    return {m for m in HEAVY if m in out}


@pytest.mark.parametrize("code", [
    "import headwise.cli.main",
    "from headwise.workflows import encoder_options, load_inputs, MeanCI",
])
def test_the_cli_and_light_workflow_names_do_not_load_the_heads(code):
    assert _loaded_after(code) == set()


def test_lazy_workflows_hold_every_name_and_the_builtin_protocols():
    code = (
        "import headwise.workflows as w\n"
        "missing = [n for n in w.__all__ if getattr(w, n, None) is None]\n"
        "assert not missing, missing\n"
        "assert {'linear', 'fewshot', 'ood', 'active'} <= set(w.list_protocols())\n"
        "assert set(w.__all__) <= set(dir(w))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_an_unknown_workflow_name_is_an_attribute_error():
    import headwise.workflows as w

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        w.nope  # noqa: B018

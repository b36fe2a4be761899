"""Reading the inputs of a workflow: a table of texts, or of images / clips, and its splits."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import Table
from ..exceptions import InputError

__all__ = ["encoder_options", "indices_for", "load_inputs", "media_report", "require_splits"]


def load_inputs(
    data: str | Path,
    encoder: str,
    *,
    text_col: str | None = None,
    label_col: str | None = None,
    split_col: str | None = None,
    require_labels: bool = True,
    on_error: str = "fail",
    drop_unlabeled: bool = False,
    encoding: str = "utf-8",
    multilabel: bool = False,
) -> Table:
    """A table of texts, or of images / clips when ``encoder`` takes media (its info says so).

    Media files left out under ``on_error="skip"`` stay listed in ``table.skipped`` and
    ``table.ignored`` (see :func:`media_report`), text rows without a label left out under
    ``drop_unlabeled`` are counted in ``table.n_dropped``; the caller decides how to show them.
    A label column holding a list of labels per row is refused with one line unless
    ``multilabel`` (the caller handles multi-label data), never turned into strings.
    """
    from ..datasets import load_table
    from ..encoders import encoder_modality
    from ..media import check_on_error

    check_on_error(on_error)
    modality = encoder_modality(encoder)
    if modality == "text":
        if on_error == "skip":
            raise InputError(
                "--on-error skip leaves out image or audio files that cannot be decoded; a text "
                "table has none, so drop it (--drop-unlabeled leaves out rows without a label)."
            )
        table = load_table(
            data, text_col=text_col, label_col=label_col, split_col=split_col,
            require_labels=require_labels, drop_unlabeled=drop_unlabeled, encoding=encoding,
        )  # fmt: skip
        if not multilabel:
            table.require_single_label()
        return table
    utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8")
    text_only = (("--text-col", text_col), ("--label-col", label_col), ("--split-col", split_col),
                 ("--drop-unlabeled", drop_unlabeled or None), ("--encoding", None if utf8 else encoding))  # fmt: skip
    for flag, value in text_only:
        if value is not None:
            raise InputError(
                f"{flag} applies to text tables, but encoder '{encoder}' reads {modality} files "
                "from class folders (or an .npz); drop the option."
            )
    from ..media import load_media

    table = load_media(data, modality, on_error=on_error)
    if require_labels and table.labels is None:
        raise InputError(
            f"{data} has no labels: put the files in one folder per class (<class>/<file>), "
            "or give an .npz with labels."
        )
    return table


def media_report(table: Table) -> dict[str, Any]:
    """``skipped`` / ``ignored`` counts and file lists of a media table; empty for text tables."""
    if not hasattr(table, "skipped"):
        return {}
    return {
        "skipped": len(table.skipped),
        "skipped_files": [{"file": s.source, "reason": s.reason} for s in table.skipped],
        "ignored": len(table.ignored),
        "ignored_files": [s.source for s in table.ignored],
    }


def encoder_options(
    layer: int | None = None, pooling: str | None = None, max_length: int | None = None,
    precision: str | None = None,
) -> dict[str, Any]:
    """Encoder keyword options, leaving out the ones not given (the encoder's defaults apply)."""
    opts: dict[str, Any] = {}
    if precision is not None:
        opts["precision"] = precision
    if layer is not None:
        opts["layer"] = layer
    if pooling is not None:
        opts["pooling"] = pooling
    if max_length is not None:
        opts["max_length"] = max_length
    return opts


def indices_for(table: Table, split: str | None) -> np.ndarray:
    """Rows of ``split``; all rows when the split is None."""
    if split is None:
        return np.arange(len(table))
    idx = table.split_indices(split)
    if idx.size == 0:
        raise InputError(
            f"Split '{split}' has no rows in {table.path.name}; splits present: "
            f"{', '.join(table.available_splits()) or 'none'}."
        )
    return idx


_TEST_FRACTION = 0.2  # rows held out as test when the data has no test split


def require_splits(table: Table, what: str = "this command") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(train, validation, test)`` row indices; train and test must not be empty.

    Data without a split column (or with train rows but no test rows) gets a test split of
    its own: a seeded, stratified 20% of its (train) rows, said in one warning line, as
    ``train_test_split(stratify=y)`` would give a user by hand. Single-label data only (a
    label list has no class to stratify by)."""
    if table.splits is None:
        pool, why = np.arange(len(table)), "has no split column"
        va = np.zeros(0, dtype=np.int64)
    else:
        tr, va, te = (table.split_indices(s) for s in ("train", "validation", "test"))
        if tr.size and te.size:
            return tr, va, te
        if tr.size == 0 or table.labels is None:
            name = "train" if tr.size == 0 else "test"
            raise InputError(
                f"{table.path.name} has no '{name}' rows; splits present: "
                f"{', '.join(table.available_splits()) or 'none'}."
            )
        pool, why = tr, "has no 'test' rows"
    from ..splits import stratified_holdout  # sklearn: not on the CLI's start-up path

    labels = None if table.labels is None else table.labels[pool]
    single = labels is not None and labels.dtype != object  # one class per row: stratifiable
    held = stratified_holdout(labels, _TEST_FRACTION, random_state=0) if single else None
    if held is None:
        raise InputError(
            f"{table.path.name} {why}; {what} needs 'train' and 'test' splits (pass "
            "--split-col)" + (", and no class has two rows to hold one out." if single else ".")
        )
    keep, test = held
    warnings.warn(
        f"{table.path.name} {why}: {what} holds out a stratified {test.size} of its "
        f"{pool.size} rows ({_TEST_FRACTION:.0%}, seed 0) as the test split; pass --split-col "
        "to use a split of your own.",
        stacklevel=2,
    )
    return pool[keep], va, pool[test]


def default_split(table: Table, split: str | None) -> str | None:
    """``split`` if given; else ``test`` when the table has test rows; else all rows (None)."""
    if split is not None or table.splits is None:
        return split
    return "test" if table.split_indices("test").size else None

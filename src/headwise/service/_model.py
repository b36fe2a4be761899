"""One served model: its base head file, the logged rows on top of it, and every version.

A model at a version is an immutable :class:`ModelState` (head, conformal calibration, OOD
detector); a write builds the next state beside the current one, commits it to the journal and
only then swaps it in, so readers never see a half-applied write and nothing is applied that is
not on disk. Heads that are pure functions of :class:`~headwise.heads.SufficientStats` (NCM, LDA,
ridge, naive Bayes) learn exactly: new rows are added to the statistics (``partial_fit``), deleted
rows are subtracted (:meth:`~headwise.heads.SufficientStats.subtract`), and the head is re-derived,
so it equals a batch refit on the same rows up to floating-point rounding.

Calibration follows the trust design: calibration rows are never training rows. Each logged row
is either ``train`` or ``calibration``; a conformal predictor is rebuilt for every version, so
the stored calibration rows are re-scored under the new head (a new class changes every softmax
normaliser). Calibration rows of classes the head has no training rows for wait until it does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_on_scale, fits_int64, has_visible_char
from ..exceptions import InputError
from ..heads import StatsHead, SufficientStats, load_head
from ..trust import check_alpha, read_calibration
from ._errors import Conflict, Invalid, NotFound
from ._journal import Journal, LoggedRow, NewRow
from ._snapshots import read_snapshot, write_snapshot
from ._version import ModelState, build_state

__all__ = ["ServedModel", "file_digest"]

log = logging.getLogger("headwise.serve")
ROLES = ("train", "calibration")


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _py(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def check_label_text(label: str, i: int) -> None:
    """A new class name must be one a person can read back: some visible character, no control
    character (numpy drops trailing NULs, so ``"ENTY\\0"`` was learned as ``"ENTY"`` while the
    journal kept the NUL) and no surrounding whitespace (``" ENTY"`` became a class of its own)."""
    bad = next((ch for ch in label if unicodedata.category(ch) == "Cc"), None)
    if bad is not None:
        raise Invalid(f"Label {i} ({label!r}) holds the control character U+{ord(bad):04X}; "
                      "send the class name without it.")  # fmt: skip
    if not has_visible_char(label):
        raise Invalid(f"Label {i} ({label!r}) has no visible character; give the row a class name.")
    if label != label.strip():
        raise Invalid(
            f"Label {i} ({label!r}) starts or ends with whitespace, so it would be a new class "
            f"beside {label.strip()!r}; send it without the spaces."
        )


class ServedModel:
    """A head file served under ``name``, with its log of labelled rows (see module docstring)."""

    def __init__(self, name: str, path: Path, settings: Any) -> None:
        self.name = name
        self.path = path
        self.digest = file_digest(path)
        self.base = load_head(path)
        if getattr(self.base, "_target_kind", "single") == "multilabel":
            # the service answers one label per row (softmax, conformal sets of classes); a
            # multi-label head's per-label scores would be served as a wrong single label
            raise InputError(
                f"Model file {path.name} holds a multi-label head ({type(self.base).__name__}); "
                "this service answers one label per row. Move it out of the models folder and "
                f"use `headwise predict DATA --model {path.name}` for label sets."
            )
        self.base_cal = read_calibration(path, self.base)
        spec = getattr(self.base, "encoder_spec_", None) or {}
        self.encoder_spec: str | None = spec.get("spec") if isinstance(spec, dict) else None
        self.encoder_options: dict[str, Any] = dict(spec.get("options") or {}) if spec else {}
        self.encoder_key = getattr(self.base, "encoder_key_", None)
        self.method = settings.conformal_method
        self.mondrian = settings.mondrian
        self.ood_method = settings.ood_method
        self.default_alpha = settings.default_alpha
        self.snapshot_every = settings.snapshot_every
        self.snapshot_dir = settings.state_path / "snapshots" / name
        info = self.base_cal.info if self.base_cal is not None else {}
        frac = settings.calib_fraction
        self.calib_fraction = float(frac if frac is not None else info.get("calib_frac", 0.2))
        self.temperature = self.base_cal.temperature if self.base_cal is not None else 1.0
        self.why_not_incremental = self._why_not_incremental()
        self.lock = threading.Lock()
        self.active: dict[int, LoggedRow] = {}
        self.seen: Counter[str] = Counter()
        self.state = self._build(0, self.base, {})

    # ---------------------------------------------------------------- description
    def _why_not_incremental(self) -> str | None:
        head = self.base
        if not isinstance(head, StatsHead) or not hasattr(head, "stats_"):
            return (
                f"{type(head).__name__} cannot learn exactly from new rows; only heads built "
                "from sufficient statistics (ncm, lda, ridge, gnb) can. Refit offline and "
                "restart the service."
            )
        try:
            head._check_incremental("the service")
        except Exception as exc:  # the head says why (e.g. LDA shrinkage='ledoit-wolf')
            return str(exc)
        return None

    @property
    def n_features(self) -> int:
        return int(self.base.n_features_in_)

    @property
    def calibrated(self) -> bool:
        return self.base_cal is not None or any(r.role == "calibration" for r in self.active.values())

    def describe(self, writable: bool) -> dict[str, Any]:
        from ..heads import name_of_head

        st = self.state
        classes = [_py(c) for c in st.head.classes_]
        return {
            "name": self.name,
            "version": st.version,
            "head": name_of_head(type(st.head)),
            "params": json.loads(json.dumps(st.head.get_params(deep=False), default=str)),
            "classes": classes,
            "n_classes": len(classes),
            "n_features": self.n_features,
            "encoder": self.encoder_spec,
            "encoder_options": self.encoder_options,
            "encoder_key": self.encoder_key,
            "learns_online": self.why_not_incremental is None,
            "why_not": self.why_not_incremental,
            "writable": writable and self.why_not_incremental is None,
            "calibration": None
            if st.conformal is None
            else {
                "temperature": st.temperature,
                "n_calibration": st.n_calibration,
                "calib_fraction": self.calib_fraction,
            },
            "conformal_method": self.method,
            "mondrian": self.mondrian,
            "default_alpha": self.default_alpha,
            "ood_method": self.ood_method,
            "examples": {"train": st.n_train, "calibration": self._n_role("calibration")},
        }

    def _n_role(self, role: str) -> int:
        return sum(1 for r in self.active.values() if r.role == role)

    # ---------------------------------------------------------------- building states
    def _refit(self, stats: SufficientStats) -> Any:
        head = type(self.base)(**self.base.get_params(deep=False))
        try:
            head.fit_from_stats(stats)
        except Exception as exc:
            raise Conflict(
                f"Model '{self.name}' cannot be refitted after this write: {exc}",
                "Add rows of at least two classes, or roll back to an earlier version.",
            ) from None
        for attr in ("encoder_key_", "encoder_spec_"):
            if hasattr(self.base, attr):
                setattr(head, attr, getattr(self.base, attr))
        return head

    def _build(self, version: int, head: Any, active: dict[int, LoggedRow]) -> ModelState:
        return build_state(
            version, head, active, self.base_cal, method=self.method, mondrian=self.mondrian,
            ood_method=self.ood_method, temperature=self.temperature,
        )  # fmt: skip

    # ---------------------------------------------------------------- restart
    def restore(self, journal: Journal) -> None:
        """Rebuild the current version from the base file (or a snapshot) plus the log."""
        n_cal = 0 if self.base_cal is None else int(self.base_cal.y_cal.size)
        version = journal.register_model(self.name, self.digest, n_cal)
        self.seen = Counter(journal.label_counts(self.name))
        if version == 0:
            return
        events = journal.events(self.name)
        active_ids: set[int] = set()
        for _, op, i in events:
            (active_ids.add if op == "add" else active_ids.discard)(i)
        rows = journal.rows(self.name, active_ids)
        self.active = {i: rows[i] for i in sorted(active_ids)}
        stats = self._restore_stats(journal, events, version)
        head = self.base if stats is None else self._refit(stats)
        self.state = self._build(version, head, self.active)

    def _restore_stats(
        self, journal: Journal, events: list[tuple[int, str, int]], version: int
    ) -> SufficientStats | None:
        if self.why_not_incremental is not None:
            return None
        for snap_version, path in journal.snapshots(self.name):
            if snap_version > version:
                continue
            stats = read_snapshot(Path(path), model=self.name, version=snap_version, digest=self.digest)
            if stats is None:
                log.warning(json.dumps({"event": "snapshot_skipped", "model": self.name, "path": path}))
                continue
            tail = [(op, i) for v, op, i in events if v > snap_version]
            rows = journal.rows(self.name, {i for _, i in tail})
            if any(rows[i].x is None for _, i in tail if rows[i].role == "train"):
                break  # a purged row in the tail: rebuild from the base instead
            for op, i in tail:
                r = rows[i]
                if r.role != "train":
                    continue
                X, y = r.x[None, :], np.array([r.label])
                (stats.update if op == "add" else stats.subtract)(X, y)
            return stats
        train = [r for r in self.active.values() if r.role == "train"]
        stats = self.base.stats_.copy()
        if train:
            stats.update(np.array([r.x for r in train]), np.array([r.label for r in train]))
        return stats

    # ---------------------------------------------------------------- writes
    def check_writable(self) -> None:
        if self.why_not_incremental is not None:
            raise Conflict(f"Model '{self.name}' cannot learn online: {self.why_not_incremental}")

    def check_labels(self, labels: list[Any]) -> np.ndarray:
        """The labels as an array of the model's label type, or :class:`Invalid` naming the
        first one that is of another type, an integer outside int64, or a new class name that
        is blank, invisible, holds control characters or is padded with whitespace."""
        classes = self.state.head.classes_
        text = classes.dtype.kind in "USO"
        known = {_py(c) for c in classes}
        for i, lab in enumerate(labels):
            if isinstance(lab, bool) or not isinstance(lab, str if text else int):
                kind = "text" if text else "integer"
                raise Invalid(
                    f"Model '{self.name}' has {kind} labels; got {lab!r}. Send labels of the "
                    f"same type as {_py(classes[0])!r}."
                )
            if not text and not fits_int64(lab):
                raise Invalid(
                    f"Label {i} ({lab}) is outside the 64-bit integer range of this model's "
                    "labels; send a label between -2^63 and 2^63 - 1."
                )
            if text and lab not in known:
                check_label_text(lab, i)
        return np.array(labels, dtype=np.int64) if not text else np.array(labels)

    def route(self, labels: list[Any], role: str) -> list[str]:
        """Each row's role: as asked, or (``auto``) every ``1/calib_fraction``-th row of a class
        goes to calibration when the model is calibrated (never a class's first row)."""
        if role != "auto":
            return [role] * len(labels)
        frac = self.calib_fraction if self.calibrated else 0.0
        seen = Counter(self.seen)
        out = []
        for lab in labels:
            key = json.dumps(lab)
            k = seen[key]
            seen[key] += 1
            cal = math.floor((k + 1) * frac + 1e-9) > math.floor(k * frac + 1e-9)
            out.append("calibration" if cal else "train")
        return out

    def add(
        self, journal: Journal, X: np.ndarray, labels: list[Any], texts: list[str] | None, role: str
    ) -> tuple[int, list[int], list[str]]:
        """Log and learn labelled rows; returns ``(version, ids, roles)``."""
        self.check_writable()
        y = self.check_labels(labels)
        check_on_scale(X, getattr(self.state.head, "input_scale_", 1.0))
        roles = self.route(labels, role)
        is_train = np.array([r == "train" for r in roles])
        head = self.state.head
        if is_train.any():
            stats = head.stats_.copy()
            stats.update(X[is_train], y[is_train])
            head = self._refit(stats)
        new = [
            NewRow(lab, r, X[k].astype(np.float64), None if texts is None else texts[k])
            for k, (lab, r) in enumerate(zip(labels, roles, strict=True))
        ]
        version = self.state.version + 1
        pending = {-1 - k: LoggedRow(-1 - k, r.label, r.role, r.x, r.text, version) for k, r in enumerate(new)}
        state = self._build(version, head, {**self.active, **pending})
        _, ids = journal.commit(
            self.name, expected_version=self.state.version, action="add",
            detail={"rows": len(new), "train": int(is_train.sum())},
            new_rows=new, n_train=state.n_train, n_calibration=state.n_calibration,
        )  # fmt: skip
        active = dict(self.active)  # copy on write: readers iterate the old dict safely
        for i, r in zip(ids, new, strict=True):
            active[i] = LoggedRow(i, r.label, r.role, r.x, r.text, version)
            self.seen[json.dumps(r.label)] += 1
        self.active = active
        self._swap(journal, state)
        return version, ids, roles

    def remove(self, journal: Journal, example_id: int, purge: bool) -> int:
        self.check_writable()
        row = self.active.get(example_id)
        if row is None:
            journal.require_example(self.name, example_id)
            raise Conflict(
                f"Example {example_id} of model '{self.name}' is already deleted.",
                f"POST /v1/models/{self.name}/rollback restores an earlier version.",
            )
        head = self.state.head
        if row.role == "train":
            stats = head.stats_.copy()
            stats.subtract(row.x[None, :], np.array([row.label]))
            head = self._refit(stats)
        active = {i: r for i, r in self.active.items() if i != example_id}
        state = self._build(self.state.version + 1, head, active)
        journal.commit(
            self.name, expected_version=self.state.version, action="delete",
            detail={"id": example_id, "purged": purge}, remove_ids=[example_id],
            purge_ids=[example_id] if purge else [],
            n_train=state.n_train, n_calibration=state.n_calibration,
        )  # fmt: skip
        self.active = active
        self._swap(journal, state)
        return state.version

    def rollback(self, journal: Journal, target: int) -> int:
        """A new version whose rows are those of version ``target``."""
        self.check_writable()
        if not 0 <= target <= self.state.version:
            raise NotFound(
                f"Model '{self.name}' has no version {target} (current: {self.state.version}).",
                f"GET /v1/models/{self.name}/versions lists them.",
            )
        wanted: set[int] = set()
        for _, op, i in journal.events(self.name, upto=target):
            (wanted.add if op == "add" else wanted.discard)(i)
        current = set(self.active)
        drop, bring = sorted(current - wanted), sorted(wanted - current)
        back = journal.rows(self.name, bring)
        if any(back[i].x is None for i in bring):
            raise Conflict(
                f"Version {target} of model '{self.name}' used rows that were deleted with "
                "purge=true; their data is gone, so it cannot be restored.",
                "Roll back to a version after those deletions.",
            )
        stats = self.state.head.stats_.copy()
        out_train = [self.active[i] for i in drop if self.active[i].role == "train"]
        in_train = [back[i] for i in bring if back[i].role == "train"]
        if out_train:
            stats.subtract(np.array([r.x for r in out_train]), np.array([r.label for r in out_train]))
        if in_train:
            stats.update(np.array([r.x for r in in_train]), np.array([r.label for r in in_train]))
        head = self._refit(stats) if (out_train or in_train) else self.state.head
        active = {i: r for i, r in self.active.items() if i not in set(drop)}
        active.update({i: back[i] for i in bring})
        state = self._build(self.state.version + 1, head, active)
        journal.commit(
            self.name, expected_version=self.state.version, action="rollback",
            detail={"to": target, "removed": len(drop), "restored": len(bring)},
            add_ids=bring, remove_ids=drop,
            n_train=state.n_train, n_calibration=state.n_calibration,
        )  # fmt: skip
        self.active = dict(sorted(active.items()))
        self._swap(journal, state)
        return state.version

    def _swap(self, journal: Journal, state: ModelState) -> None:
        self.state = state
        if self.snapshot_every and state.version % self.snapshot_every == 0:
            self._snapshot(journal, state.version, state.head)

    def _snapshot(self, journal: Journal, version: int, head: Any) -> None:
        path = self.snapshot_dir / f"v{version:09d}.safetensors"
        try:
            write_snapshot(path, head.stats_, model=self.name, version=version, digest=self.digest)
            for old in journal.record_snapshot(self.name, version, str(path)):
                Path(old).unlink(missing_ok=True)
        except Exception as exc:  # the write is committed; a missing snapshot only slows restarts
            log.warning(json.dumps({"event": "snapshot_failed", "model": self.name, "error": str(exc)}))

    def check_alpha(self, alpha: float | None) -> float:
        return check_alpha(self.default_alpha if alpha is None else alpha, "this request")

"""Stratified holdout for heads that pick a setting on validation data (lives in ``splits``)."""

from __future__ import annotations

from ..splits import require_holdout, stratified_holdout

__all__ = ["require_holdout", "stratified_holdout"]

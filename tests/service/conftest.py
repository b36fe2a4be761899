"""Fixtures for the service tests: a folder of small heads on the `hash` encoder, a TestClient."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fastapi.testclient import TestClient  # noqa: E402
from service_helpers import TOKEN, make_models  # noqa: E402

from headwise.service import ServeSettings, create_app  # noqa: E402


@pytest.fixture
def toy(tmp_path: Path) -> dict[str, Any]:
    folder = tmp_path / "models"
    folder.mkdir()
    return {**make_models(folder), "folder": folder}


@pytest.fixture
def models_dir(toy: dict[str, Any]) -> Path:
    return toy["folder"]


@pytest.fixture
def settings(models_dir: Path) -> ServeSettings:
    return ServeSettings(models_dir, token=TOKEN, max_rows=50, max_text_chars=200,
                         max_body_bytes=200_000, snapshot_every=3)  # fmt: skip


@pytest.fixture
def client(settings: ServeSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c



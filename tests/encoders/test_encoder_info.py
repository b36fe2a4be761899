"""Factory ``info``: what `headwise encoders list` shows and how the CLI picks a loader."""

from __future__ import annotations

import pytest

from headwise.encoders import HashEncoder, describe_encoders, encoder_modality, register_encoder
from headwise.encoders._registry import INFO_FIELDS, _runtime


@pytest.fixture
def registered():
    names: list[str] = []

    def add(name, factory):
        register_encoder(name, factory)
        names.append(name)

    yield add
    for n in names:
        _runtime.pop(n, None)


def test_builtins_describe_themselves() -> None:
    rows = {r["name"]: r for r in describe_encoders()}
    for name, modality in (("hash", "text"), ("minilm", "text"), ("hf", "text"),
                           ("mobilenetv2", "image"), ("efficientnet-lite0", "image"),
                           ("whisper-base", "audio")):  # fmt: skip
        assert rows[name]["modality"] == modality
        assert all(rows[name][f] is not None for f in INFO_FIELDS), rows[name]
        assert isinstance(rows[name]["available"], bool)
    assert rows["hash"]["available"] is True


def test_plugins_without_info_or_with_a_failing_check(registered) -> None:
    registered("bare", lambda arg, **o: HashEncoder())

    def picky(arg=None):
        return HashEncoder()

    def broken() -> bool:
        raise RuntimeError("probe failed")

    picky.info = {"modality": "image", "dim": 3, "available": broken}
    registered("picky", picky)
    rows = {r["name"]: r for r in describe_encoders()}
    assert rows["bare"]["modality"] is None and rows["bare"]["available"] is True
    assert rows["picky"]["available"] is False and "probe failed" in rows["picky"]["problem"]
    assert encoder_modality("picky") == "image"
    assert encoder_modality("bare") == "text"


def test_modality_of_specs() -> None:
    assert encoder_modality("hash:16") == "text"
    assert encoder_modality("MobileNetV2") == "image"
    assert encoder_modality("whisper-base") == "audio"
    assert encoder_modality("no-such-encoder") == "text"  # get_encoder reports it later

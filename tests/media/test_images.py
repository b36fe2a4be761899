"""Image loading: ImageFolder folders and zips, arrays, and corrupt files under fail and skip."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from media_helpers import CIFAR_CLASSES, truncated_jpeg

from headwise.exceptions import InputError
from headwise.media import ImageItem, as_image_items, load_images, load_media
from headwise.store._keys import content_digest

pytest.importorskip("PIL")


def test_folder_with_splits(cifar_dir: Path) -> None:
    t = load_images(cifar_dir)
    assert len(t) == 12 and t.modality == "image"
    assert sorted(set(t.labels.tolist())) == sorted(CIFAR_CLASSES)
    assert t.split_indices("train").size == 9 and t.split_indices("test").size == 3
    assert t.skipped == [] and t.ignored == []
    assert t.texts[0].to_pil().size == (32, 32)


def test_zip_matches_folder_and_strips_the_wrapping_folder(cifar_dir: Path, cifar_zip: Path) -> None:
    a, b = load_images(cifar_dir), load_images(cifar_zip)
    assert a.labels.tolist() == b.labels.tolist() and a.splits.tolist() == b.splits.tolist()
    assert [x.cache_digest() for x in a.texts] == [x.cache_digest() for x in b.texts]
    assert ":cifar/test/airplane/" in b.texts[0].source  # sorted: test/ before train/


def test_class_folders_without_splits(cifar_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(cifar_dir / "train", tmp_path / "flat")
    t = load_images(tmp_path / "flat")
    assert len(t) == 9 and t.splits is None and t.labels[0] == "airplane"


def test_mnist_npz_splits_and_grayscale(mnist_npz: Path) -> None:
    t = load_media(mnist_npz, "image")
    assert len(t) == 9 and t.split_indices("test").size == 3
    assert t.labels.dtype.kind in "iu"
    im = t.texts[0].to_pil()
    assert im.mode == "RGB" and im.size == (28, 28)
    px = np.asarray(im)
    assert np.array_equal(px[..., 0], px[..., 2])  # gray repeated to three channels


def test_images_labels_npz_and_npy(tmp_path: Path) -> None:
    x = np.random.default_rng(0).integers(0, 255, (4, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", images=x, labels=np.array(["a", "b", "a", "b"]))
    np.save(tmp_path / "b.npy", x)
    assert load_images(tmp_path / "a.npz").labels.tolist() == ["a", "b", "a", "b"]
    t = load_images(tmp_path / "b.npy")
    assert len(t) == 4 and t.labels is None


def test_content_digest_depends_on_pixels_not_source() -> None:
    a = ImageItem.from_array(np.zeros((4, 4), np.uint8), source="x")
    b = ImageItem.from_array(np.zeros((4, 4), np.uint8), source="y")
    c = ImageItem.from_array(np.ones((4, 4), np.uint8), source="x")
    assert a.cache_digest() == b.cache_digest() != c.cache_digest()
    assert content_digest([a])[1] == content_digest([b])[1] != content_digest([c])[1]


def test_content_digest_refuses_other_objects() -> None:
    with pytest.raises(InputError, match="Input 1 is int, expected str or a media item"):
        content_digest([ImageItem.from_array(np.zeros((2, 2), np.uint8)), 3])


def _corrupt_copy(cifar_dir: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    root = tmp_path / "data"
    shutil.copytree(cifar_dir, root)
    good = next((root / "train" / "cat").iterdir())
    truncated = root / "train" / "cat" / "truncated.jpg"
    truncated.write_bytes(truncated_jpeg(good.read_bytes()))
    not_image = root / "train" / "ship" / "notes.jpg"
    not_image.write_text("this is not an image")
    return root, truncated, not_image


def test_corrupt_files_fail_by_default_naming_the_file(cifar_dir: Path, tmp_path: Path) -> None:
    root, truncated, _ = _corrupt_copy(cifar_dir, tmp_path)
    with pytest.raises(InputError, match=r"truncated\.jpg.*--on-error skip"):
        load_images(root)
    with pytest.raises(InputError, match="on_error must be 'fail' or 'skip'"):
        load_images(root, on_error="ignore")


def test_corrupt_files_skipped_and_listed(cifar_dir: Path, tmp_path: Path) -> None:
    root, truncated, not_image = _corrupt_copy(cifar_dir, tmp_path)
    (root / "train" / "cat" / "README.txt").write_text("ignored, and listed as ignored")
    t = load_images(root, on_error="skip")
    assert len(t) == 12
    assert sorted(s.source for s in t.skipped) == sorted([str(truncated), str(not_image)])
    assert all(s.reason for s in t.skipped)
    assert [Path(s.source).name for s in t.ignored] == ["README.txt"]


def test_corrupt_member_in_zip(cifar_zip: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    shutil.copy(cifar_zip, bad)
    with zipfile.ZipFile(bad, "a") as z:
        z.writestr("cifar/train/cat/broken.png", b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(InputError, match=r"bad\.zip:cifar/train/cat/broken\.png"):
        load_images(bad)
    assert [s.source.rsplit(":", 1)[1] for s in load_images(bad, on_error="skip").skipped] == [
        "cifar/train/cat/broken.png"
    ]


def test_layout_errors_and_missing_paths(tmp_path: Path, cifar_dir: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_images(tmp_path / "nope")
    root = tmp_path / "mixed"
    shutil.copytree(cifar_dir / "train", root)
    shutil.copy(next((root / "cat").iterdir()), root / "loose.jpg")
    with pytest.raises(InputError, match="ImageFolder-style layout"):
        load_images(root)
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(InputError, match="expected a folder, a .zip"):
        load_images(tmp_path / "x.csv")


def test_as_image_items_accepts_arrays_pil_and_paths(cifar_dir: Path) -> None:
    from PIL import Image

    path = next((cifar_dir / "train" / "cat").iterdir())
    items = as_image_items([np.zeros((5, 5, 3), np.uint8), Image.open(path), str(path)])
    assert [type(i) for i in items] == [ImageItem] * 3
    with pytest.raises(InputError, match="single ndarray"):
        as_image_items(np.zeros((5, 5), np.uint8))
    with pytest.raises(InputError, match="float in \\[0, 1\\]"):
        ImageItem.from_array(np.full((2, 2), 7.0))


@pytest.mark.parametrize("member", ["../evil/cat/0.png", "/abs/cat/0.png"])
def test_a_zip_member_whose_path_leaves_the_archive_is_refused(cifar_zip: Path, tmp_path: Path,
                                                                member: str) -> None:
    # it was skipped silently as a hidden file ("..") or read as a class ("/abs")
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(cifar_zip) as src, zipfile.ZipFile(bad, "w") as z:
        for info in src.infolist():
            z.writestr(info, src.read(info.filename))
        z.writestr(member, src.read(src.namelist()[-1]))
    with pytest.raises(InputError, match=r"whose path leaves the archive"):
        load_images(bad)

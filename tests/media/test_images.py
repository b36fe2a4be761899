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


def _png(array: np.ndarray, **save: object) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=save.pop("format", "PNG"), **save)
    return buf.getvalue()


def test_16_bit_and_float_images_keep_their_tones() -> None:
    # convert("RGB") clipped them: every 16-bit PNG was one white image, every float TIFF one
    # black image, so all of them had one embedding
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    a = np.asarray(ImageItem(source="a", data=_png(ramp)).to_pil())
    b = np.asarray(ImageItem(source="b", data=_png(ramp[::-1].copy())).to_pil())
    assert a.min() == 0 and a.max() == 255 and (a != b).any()
    f = np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(32, 32)
    tiff = np.asarray(ImageItem(source="f", data=_png(f, format="TIFF")).to_pil())
    assert tiff.min() == 0 and tiff.max() == 255


def test_exif_orientation_is_applied() -> None:
    import io

    from PIL import Image

    img = Image.new("RGB", (64, 32), (200, 10, 10))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif.tobytes())
    assert ImageItem(source="e", data=buf.getvalue()).to_pil().size == (32, 64)


def test_bad_zip_members_and_duplicates(cifar_dir: Path, tmp_path: Path) -> None:
    files = sorted(cifar_dir.rglob("*.jpg"))[:4]
    # two members with one name: the first was never read, the second labelled with its folder
    dup = tmp_path / "dup.zip"
    with zipfile.ZipFile(dup, "w") as z, pytest.warns(UserWarning, match="Duplicate name"):
        z.writestr("cat/a.jpg", files[0].read_bytes())
        z.writestr("dog/b.jpg", files[1].read_bytes())
        z.writestr("cat/a.jpg", files[2].read_bytes())
    with pytest.raises(InputError, match="more than one member named 'cat/a.jpg'"):
        load_images(dup)
    # a member with a bad CRC was a raw zipfile.BadZipFile traceback, even with on_error="skip"
    bad = tmp_path / "crc.zip"
    with zipfile.ZipFile(bad, "w", compression=zipfile.ZIP_STORED) as z:
        for i, f in enumerate(files):
            z.writestr(f"{'cat' if i % 2 else 'dog'}/{i}.jpg", f.read_bytes())
    data = bytearray(bad.read_bytes())
    data[200] ^= 0xFF  # inside the first member's bytes
    bad.write_bytes(bytes(data))
    with pytest.raises(InputError, match="cannot read .* from the archive"):
        load_images(bad)
    assert len(load_images(bad, on_error="skip")) == len(files) - 1


def test_a_linked_class_folder_is_read_and_a_broken_link_named(cifar_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "cat").mkdir(parents=True)
    cats = sorted((cifar_dir).rglob("*.jpg"))[:2]
    for i, f in enumerate(cats):
        shutil.copy(f, root / "cat" / f"{i}.jpg")
    (root / "dog").symlink_to(root / "cat", target_is_directory=True)  # left out before
    assert sorted(load_images(root).labels.tolist()) == ["cat", "cat", "dog", "dog"]
    (root / "cat" / "gone.jpg").symlink_to(tmp_path / "missing.jpg")  # was dropped silently
    with pytest.raises(InputError, match="gone.jpg.*broken link"):
        load_images(root)
    assert len(load_images(root, on_error="skip").skipped) == 2  # once under cat/, once via dog/


def test_npz_labels_must_be_one_per_image(tmp_path: Path) -> None:
    x = np.zeros((3, 8, 8), np.uint8)
    np.savez(tmp_path / "scalar.npz", images=x, labels=np.int64(3))  # len() of unsized object
    with pytest.raises(InputError, match=r"give one label per image"):
        load_images(tmp_path / "scalar.npz")
    np.savez(tmp_path / "no_y_test.npz", x_train=x, y_train=np.arange(3), x_test=x)  # all labels lost
    with pytest.raises(InputError, match="no y_test for x_test"):
        load_images(tmp_path / "no_y_test.npz")
    np.savez(tmp_path / "empty.npz", images=np.zeros((3, 0, 5), np.float32))
    with pytest.raises(InputError, match="has no pixels"):
        load_images(tmp_path / "empty.npz")


def test_a_link_back_up_the_tree_is_not_followed(cifar_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    for c in ("cat", "dog"):
        (root / c).mkdir(parents=True)
        shutil.copy(sorted(cifar_dir.rglob("*.jpg"))[0], root / c / "x.jpg")
    (root / "cat" / "loop").symlink_to(root, target_is_directory=True)
    assert sorted(load_images(root).labels.tolist()) == ["cat", "dog"]


def test_windows_zip_names_and_capitalised_split_folders(cifar_dir: Path, tmp_path: Path) -> None:
    # "cat\\a.jpg" members and Train/Test folders ended in "has no labels" and "depth [3]"
    files = sorted(cifar_dir.rglob("*.jpg"))[:4]
    win = tmp_path / "win.zip"
    with zipfile.ZipFile(win, "w") as z:
        for i, f in enumerate(files):
            z.writestr(f"{'Train' if i < 2 else 'TEST'}\\{'cat' if i % 2 else 'dog'}\\{i}.jpg", f.read_bytes())
    t = load_images(win)
    assert sorted(zip(t.splits.tolist(), t.labels.tolist(), strict=True)) == [
        ("test", "cat"), ("test", "dog"), ("train", "cat"), ("train", "dog")]

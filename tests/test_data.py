"""image_folder on awkward real-world folders: odd colour modes, broken files, empty classes."""
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import kerastl
from kerastl.data import image_folder

_ramp = np.linspace(0, 255, 24)
RGB = np.stack([np.add.outer(_ramp, _ramp) / 2, np.add.outer(_ramp, 255 - _ramp) / 2,
                np.full((24, 24), 200.0)], axis=-1).astype(np.uint8)  # smooth colours: JPEG keeps them


def make_folder(root, broken=True):
    """a/: RGB JPEG, CMYK JPEG, grayscale JPEG, RGBA PNG, palette PNG; b/: 2 RGB PNGs (+ broken files)."""
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    Image.fromarray(RGB).save(root / "a" / "rgb.jpg", quality=95)
    Image.fromarray(RGB).convert("CMYK").save(root / "a" / "cmyk.jpg", quality=95)
    Image.fromarray(RGB).convert("L").save(root / "a" / "gray.jpg")
    Image.fromarray(RGB).convert("RGBA").save(root / "a" / "alpha.png")
    Image.fromarray(RGB).convert("P").save(root / "a" / "palette.png")
    for i in range(2):
        Image.fromarray(RGB[::-1]).save(root / "b" / f"{i}.png")
    (root / "b" / "notes.txt").write_text("not an image: ignored by suffix")
    if broken:
        (root / "b" / "garbage.jpg").write_bytes(b"this is not a jpeg")
        (root / "b" / "truncated.png").write_bytes((root / "b" / "0.png").read_bytes()[:40])
    return root


def test_colour_modes_become_rgb_and_broken_files_are_skipped_with_a_count(tmp_path):
    root = make_folder(tmp_path / "photos")
    with pytest.warns(UserWarning, match=r"skipped 1 file\(s\).*no JPEG/PNG/GIF/BMP.*garbage\.jpg"):
        data = image_folder(root, image_size=(24, 24), validation_split=0, batch_size=16)  # reads headers only
    assert data.class_names == ["a", "b"] and [p.split("/")[-1] for p in data.skipped] == ["garbage.jpg"]
    # The truncated PNG has a PNG header: it fails in the tf.data map, is dropped, and is named after the pass.
    with pytest.warns(UserWarning, match=r"skipped 1 image file\(s\).*failed to decode.*truncated\.png"):
        (images, labels), = list(data.train)
    assert images.shape == (7, 24, 24, 3) and images.dtype == tf.float32 and sorted(labels.numpy()) == [0] * 5 + [1] * 2
    assert sorted(p.split("/")[-1] for p in data.skipped) == ["garbage.jpg", "truncated.png"] and data.count("train") == 7
    by_file = {}
    for name in ("rgb.jpg", "cmyk.jpg", "alpha.png", "palette.png"):
        decoded = tf.io.decode_image(tf.io.read_file(str(root / "a" / name)), channels=3)
        by_file[name] = decoded.numpy().astype(float)
    assert np.abs(by_file["alpha.png"] - RGB).max() == 0  # alpha dropped, colours kept
    assert np.abs(by_file["cmyk.jpg"] - by_file["rgb.jpg"]).mean() < 6  # CMYK converted, not inverted
    assert np.abs(by_file["palette.png"] - RGB).mean() < 20  # web-palette dithering


def test_empty_class_folder_and_missing_folder_are_clear_errors(tmp_path):
    root = make_folder(tmp_path / "photos", broken=False)
    (root / "c").mkdir()
    with pytest.raises(kerastl.InvalidArgumentError, match=r"without readable images.*\['c'\]"):
        image_folder(root)
    with pytest.raises(kerastl.InvalidArgumentError, match="does not exist"):
        image_folder(tmp_path / "nope")
    with pytest.raises(kerastl.InvalidArgumentError, match="no class folders"):
        image_folder(root / "a")
    with pytest.raises(kerastl.InvalidArgumentError, match="validation_split"):
        image_folder(root, validation_split=1.5)


def test_validation_split_is_seeded_and_disjoint(tmp_path):
    root = make_folder(tmp_path / "photos", broken=False)
    first = image_folder(root, image_size=(8, 8), validation_split=0.3, seed=1)
    again = image_folder(root, image_size=(8, 8), validation_split=0.3, seed=1)
    count = lambda ds: sum(int(y.shape[0]) for _, y in ds)  # noqa: E731
    assert (count(first.train), count(first.val)) == (5, 2)
    val = lambda d: np.concatenate([x.numpy() for x, _ in d.val])  # noqa: E731
    np.testing.assert_array_equal(val(first), val(again))


def test_tfds_offline_names_the_data_dir_to_fill(tmp_path):
    from kerastl.data import tfds_images

    with pytest.raises(kerastl.DataUnavailableError, match=r"tfds build mnist --data_dir DIR.*data_dir='DIR'"):
        tfds_images("mnist", data_dir=str(tmp_path), download=False)
    with pytest.raises(kerastl.InvalidArgumentError, match="unknown TFDS data set"):
        tfds_images("no_such_dataset_xyz", data_dir=str(tmp_path), download=False)


def test_tfds_images_read_a_workers_share_and_cache_by_the_memory_budget(tmp_path, caplog):
    from kerastl.data import tfds_images
    from tests.tiny_tfds import TinyDigits

    TinyDigits(data_dir=str(tmp_path)).download_and_prepare()

    def load(**kwargs):
        data = tfds_images("tiny_digits", data_dir=str(tmp_path), download=False, image_size=(4, 4), batch_size=4,
                           **kwargs)
        batches = [(x.numpy(), y.numpy()) for x, y in data.train]
        return np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches])

    with caplog.at_level("INFO", logger="kerastl"):
        x, y = load()
    assert x.dtype == np.float32 and x.shape == (12, 4, 4, 3) and sorted(np.bincount(y)) == [4, 4, 4]
    np.testing.assert_array_equal(x[:, 0, 0, 0], 20 * y)  # whole-number pixels through the uint8 cache
    assert "train: 12 images, 0.00 GB decoded: cached in RAM" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO", logger="kerastl"):
        share_x, share_y = load(shard=(1, 2), memory_bytes=0)
    assert len(share_y) == 6 and "train: 6 images, 0.00 GB decoded: decoded every epoch" in caplog.text
    np.testing.assert_array_equal(share_x[:, 0, 0, 0], 20 * share_y)


def test_text_lines_keep_quotes_and_count_malformed_lines(tmp_path):
    from kerastl.data import text_lines

    path = tmp_path / "s.txt"
    path.write_text('He said "great"\t1\nno label here\nawful, just awful.\t0\nbad label\tx\n\n')
    with pytest.warns(UserWarning, match="skipped 2 malformed line"):
        texts, labels = text_lines(path)
    assert texts == ['He said "great"', "awful, just awful."] and labels.tolist() == [1, 0]
    with pytest.raises(kerastl.InvalidArgumentError, match="does not exist"):
        text_lines(tmp_path / "missing.txt")


def test_real_sentiment_files_load_whole(tmp_path):
    from kerastl.data import text_lines
    from tests.conftest import SHARED

    files = sorted((SHARED / "data" / "text" / "sentiment_sentences").glob("*_labelled.txt"))
    if not files:
        pytest.skip("../shared/data/text is missing")
    texts, labels = text_lines(*files)
    assert len(texts) == 3000 and np.bincount(labels).tolist() == [1500, 1500]


@pytest.mark.parametrize("memory_bytes, on_disk", [(10**9, False), (0, True)])
def test_decoded_images_are_cached_in_ram_or_on_disk_by_size_and_reshuffled(tmp_path, memory_bytes, on_disk):
    root = make_folder(tmp_path / "photos", broken=False)
    cache = tmp_path / "cache"
    data = image_folder(root, image_size=(24, 24), validation_split=0, batch_size=7, memory_bytes=memory_bytes,
                        cache_dir=cache)
    epochs = [list(data.train)[0] for _ in range(3)]  # full passes: a disk cache is complete after the first
    assert sorted(cache.glob("train*")) if on_disk else not cache.exists()  # a disk cache holds the train split
    by_image = [sorted((float(x.numpy().sum()), int(y)) for x, y in zip(*epoch)) for epoch in epochs]
    assert by_image[0] == by_image[1] == by_image[2]  # the same images and labels every epoch
    orders = {tuple(int(y) for y in labels) + tuple(float(x.numpy().sum()) for x in images) for images, labels in epochs}
    assert len(orders) > 1  # in a new order


def test_phase_1_features_beyond_the_budget_go_to_disk_and_are_removed_after(tmp_path):
    import keras

    from kerastl.train import fit_head

    stripes = np.arange(32) // 4 % 2 * 255.0  # class 0: vertical stripes, class 1: horizontal, both noisy
    x = np.stack([np.broadcast_to(stripes[None, :, None], (32, 32, 3))] * 24
                 + [np.broadcast_to(stripes[:, None, None], (32, 32, 3))] * 24)
    x = (x + np.random.default_rng(0).normal(0, 20, x.shape)).clip(0, 255).astype("float32")
    y = np.repeat([0, 1], 24)
    keras.utils.set_random_seed(0)
    model = kerastl.build("efficientnet_lite0", num_classes=2, input_shape=(32, 32, 3))
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(48, seed=0).batch(8)
    history = fit_head(model, dataset, dataset, epochs=10, batch_size=8, memory_bytes=0, cache_dir=tmp_path / "cache")
    assert history.history["val_accuracy"][-1] == 1.0  # trained from the memory-mapped rows
    assert list((tmp_path / "cache").iterdir()) == []  # its temporary files are gone


def test_rows_past_the_budget_are_written_once_and_read_back_equal(tmp_path):
    from kerastl.train.feature_cache import _Rows

    batches = [[np.full((3, 2), i, "float32"), np.arange(3) + 3 * i] for i in range(4)]
    rows = _Rows(memory_bytes=60, directory=tmp_path / "rows")  # two batches fit, the third spills
    for batch in batches:
        rows.append(batch)
    features, labels = rows.arrays()
    assert rows.on_disk and isinstance(features, np.memmap) and features.shape == (12, 2)
    np.testing.assert_array_equal(features[:, 0], np.repeat(np.arange(4), 3))
    np.testing.assert_array_equal(labels, np.arange(12))

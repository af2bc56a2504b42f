"""Resumable runs: an interrupted fit resumes at the next epoch with the same history; NaN stops."""
import csv

import keras
import numpy as np
import pytest

import kerastl
from kerastl.train.callbacks import run_callbacks

X = np.random.default_rng(0).uniform(0, 255, (16, 32, 32, 3)).astype("float32")
Y = np.arange(16) % 3


class Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt("simulated crash after epoch 2")


def fresh_model():
    keras.utils.set_random_seed(0)
    return kerastl.build("efficientnet_lite0", num_classes=3, input_shape=(32, 32, 3), dropout=0)


def fit(model, directory, extra=()):
    return model.fit(X, Y, validation_data=(X, Y), batch_size=8, epochs=4, shuffle=False, verbose=0,
                     callbacks=[*run_callbacks(directory), *extra])


def test_interrupted_run_resumes_at_epoch_3_with_identical_history(tmp_path):
    reference = fit(fresh_model(), tmp_path / "reference").history["loss"]
    with pytest.raises(KeyboardInterrupt):
        fit(fresh_model(), tmp_path / "run", [Interrupt()])
    assert (tmp_path / "run" / "backup").is_dir()
    resumed = fit(fresh_model(), tmp_path / "run")
    assert resumed.epoch == [2, 3]  # epochs 1-2 were not run again
    with open(tmp_path / "run" / "history.csv") as f:
        logged = [(int(row["epoch"]), float(row["loss"])) for row in csv.DictReader(f)]
    assert [e for e, _ in logged] == [0, 1, 2, 3]
    np.testing.assert_allclose([loss for _, loss in logged], reference, rtol=1e-5)
    assert not (tmp_path / "run" / "backup").exists()  # removed once training finished
    best = keras.models.load_model(tmp_path / "run" / "best.keras")
    assert best.output_names == ["predictions"]


def test_an_interrupted_file_write_keeps_the_old_file_and_leaves_nothing(tmp_path):
    import subprocess

    from kerastl.io import atomic_file

    target = tmp_path / "best.keras"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_file(target) as tmp:
            tmp.write_text("half written")
            raise RuntimeError("the write dies here")
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]
    dead = subprocess.Popen(["true"])  # a finished process: its leftovers are junk
    dead.wait()
    (tmp_path / f".best.keras.partial-{dead.pid}-00ff.keras").write_text("junk of a killed run")
    with atomic_file(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and list(tmp_path.iterdir()) == [target]


def test_nan_loss_stops_training(tmp_path):
    corrupt = X.copy()
    corrupt[3] = np.nan  # one bad sample poisons the loss
    history = fresh_model().fit(corrupt, Y, batch_size=8, epochs=5, verbose=0,
                                callbacks=run_callbacks(tmp_path, monitor="loss"))
    assert history.epoch == [0] and np.isnan(history.history["loss"][0])


def test_a_run_past_its_memory_budget_caches_on_disk_and_names_files_that_fail_to_decode(tmp_path, caplog):
    from kerastl.train.run import train_run
    from tests.conftest import photo_folder

    data = photo_folder(tmp_path / "photos", per_class=8)
    cut = data / "1" / "cut.jpg"
    cut.write_bytes(next((data / "1").iterdir()).read_bytes()[:300])  # a JPEG header, then nothing
    with caplog.at_level("INFO", logger="kerastl"), pytest.warns(UserWarning, match=r"failed to decode.*cut\.jpg"):
        metrics = train_run(data, tmp_path / "run", export=False, memory_gb=0, image_size=32, head_epochs=2,
                            fine_tune_epochs=1)
    assert metrics["skipped_files"] == [str(cut)]  # found by the stream, not by indexing
    assert metrics["train_images"] + metrics["val_images"] == 24
    assert "cached on disk" in caplog.text and "GB on disk" in caplog.text  # images and features both spilled
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos", "run"]  # <out>.work/ and its caches are gone

"""Interrupted runs: a real `kerastl train` killed (SIGKILL) at three points in turn, each time rerun with the same
command."""
import csv
import json
import re
import signal
import subprocess
import sys
import threading

import keras
import pytest

from tests.conftest import photo_folder

NOISE = ("absl::InitializeLog", "oneDNN", "cuInit", "cuda", "deprecated", "fully_quantize", "WARNING:tensorflow",
         "UserWarning", "Traceback")
RUN_FILES = ["MODEL_CARD.md", "best.keras", "confusion.png", "curves.png", "history.csv", "labels.txt",
             "metrics.json", "model.keras"]


def _command(data, out) -> list[str]:
    return [sys.executable, "-m", "kerastl", "train", "--data", str(data), "--out", str(out), "--image-size", "32",
            "--head-epochs", "3", "--fine-tune-epochs", "3", "--unfreeze-blocks", "1",
            "--formats", "tflite", "--quantize", "int8"]  # the noisiest converter (quiet output checked)


def _kill_when_printed(command: list[str], trigger: str) -> str:
    """Run `command`, SIGKILL it as soon as it prints a line containing `trigger`; -> what it printed."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watchdog = threading.Timer(240, process.kill)
    watchdog.start()
    printed = []
    try:
        for line in process.stdout:
            printed.append(line)
            if trigger in line:
                process.send_signal(signal.SIGKILL)
                break
    finally:
        watchdog.cancel()
        process.wait()
    assert process.returncode == -signal.SIGKILL, "".join(printed[-30:])
    return "".join(printed)


@pytest.mark.e2e
def test_a_run_killed_three_times_then_rerun_ends_complete_with_every_epoch_and_no_leftovers(tmp_path):
    """One run killed in phase 1, again (resumed) as a fine-tune checkpoint is written, again (resumed) during
    its export; each time the same command again."""
    data = photo_folder(tmp_path / "photos", per_class=6)
    out = tmp_path / "run"
    command = _command(data, out)
    for kills, trigger in enumerate(("head epoch 1/3", "saving best.keras", "export: ")):
        printed = _kill_when_printed(command, trigger)
        assert ("resuming the interrupted run" in printed) == (kills > 0), printed[-2000:]
        assert not out.exists() and (tmp_path / "run.work").is_dir()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".run.partial-")]  # the killed export's
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "training finished before the interruption" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(RUN_FILES + ["export"])
    for name in ("model.keras", "best.keras"):
        assert keras.models.load_model(out / name).output.shape[-1] == 3
    with open(out / "history.csv") as f:
        rows = [(row["phase"], int(row["epoch"])) for row in csv.DictReader(f)]
    assert rows == [("head", 1), ("head", 2), ("head", 3), ("fine_tune", 1), ("fine_tune", 2), ("fine_tune", 3)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos", "run"]  # no <out>.work, no partial directory
    # the command is quiet: progress lines with times, none of TensorFlow's or the converters' logs
    printed = done.stdout + done.stderr
    assert not [noise for noise in NOISE if noise in printed], printed
    assert json.loads((out / "export" / "model" / "1" / "export_report.json").read_text())["artefacts"].keys() == {
        "tflite_int8"}
    for line in ("export: TFLite int8: done in", "tflite_int8: tie_tolerant_agreement", "verifying 1 artefact(s)"):
        assert re.search(rf"^\[ *\d+\.\d s\] .*{re.escape(line)}", done.stdout, re.M), (line, done.stdout)

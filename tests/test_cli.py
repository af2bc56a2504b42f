"""The command line on bad input (a table of what users type wrong), evaluation semantics, and one
definition of every training option."""
import dataclasses
import inspect
import json
import shutil
import sys

import pytest

import kerastl
from kerastl import cli
from kerastl.train import options as train_options
from tests.conftest import DEMO_DATA, photo_folder


def _listing(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _setup(tmp):
    """Inputs the bad-input rows refer to, all under `tmp`."""
    photos = photo_folder(tmp / "photos", per_class=4)
    (tmp / "bad.toml").write_text("head_epochs = [\n")
    (tmp / "typed.toml").write_text('head_epochs = "ten"\n')
    (tmp / "unknown.toml").write_text("epochs = 3\n")
    (tmp / "broken.keras").write_bytes(b"not a zip archive")
    photo_folder(tmp / "onlyval" / "val", per_class=1)
    (tmp / "exists").mkdir()
    photo_folder(tmp / "letters", classes=("0", "1"), per_class=2)
    for old, new in (("0", "a"), ("1", "b")):
        (tmp / "letters" / old).rename(tmp / "letters" / new)
    (tmp / "other.work").mkdir()
    (tmp / "other.work" / "fingerprint.json").write_text('{"data": "elsewhere"}')
    (tmp / "exports" / "model" / "1").mkdir(parents=True)
    return {"photos": photos, "photo": next((photos / "0").iterdir()), "tmp": tmp}


TRAIN = ["train", "--data", "{photos}", "--out", "{tmp}/run", "--image-size", "32"]
ROWS = [  # (id, arguments, the message's gist)
    ("missing recipe file", [*TRAIN, "--recipe", "{tmp}/nope.toml"], "nope.toml' does not exist"),
    ("malformed toml", [*TRAIN, "--recipe", "{tmp}/bad.toml"], "is not valid TOML"),
    ("toml value of a wrong type", [*TRAIN, "--recipe", "{tmp}/typed.toml"], "head_epochs must be an integer, got 'ten'"),
    ("unknown toml key", [*TRAIN, "--recipe", "{tmp}/unknown.toml"], "unknown option(s) ['epochs']"),
    ("unknown recipe name", [*TRAIN, "--recipe", "nosuch"], "recipe must be one of"),
    ("nothing to train", [*TRAIN, "--head-epochs", "0", "--fine-tune-epochs", "0"], "nothing would be trained"),
    ("negative epochs", [*TRAIN, "--head-epochs", "-1"], "head_epochs must be >= 0"),
    ("tiny image size", [*TRAIN, "--image-size", "8"], "image_size must be >= 32"),
    ("audio clips over a minute", [*TRAIN, "--clip-seconds", "61"], "clip_seconds must be <= 60, got 61.0"),
    ("unknown backbone", [*TRAIN, "--backbone", "efficentnet"], "Did you mean"),
    ("unknown export format", [*TRAIN, "--formats", "pdf"], "formats must be a non-empty subset"),
    ("missing data folder", ["train", "--data", "{tmp}/nodata", "--out", "{tmp}/run"], "is not a folder"),
    ("only a val/ folder", ["train", "--data", "{tmp}/onlyval", "--out", "{tmp}/run", "--image-size", "32"],
     "but no train/ folder"),
    ("existing --out", ["train", "--data", "{photos}", "--out", "{tmp}/exists"], "already exists"),
    ("--out that is a file", ["train", "--data", "{photos}", "--out", "{tmp}/bad.toml", "--overwrite"], "is a file"),
    ("--out that holds the data", ["train", "--data", "{photos}/0", "--out", "{photos}", "--overwrite"],
     "would replace the data folder"),
    ("learning rate that is not finite", [*TRAIN, "--learning-rate", "nan"], "learning_rate must be a finite number"),
    ("another run's state in <out>.work", ["train", "--data", "{photos}", "--out", "{tmp}/other"],
     "holds the state of a different interrupted run"),
    ("predict on a folder", ["predict", "{photos}", "--model", "{model}"], "is a folder; pass image files"),
    ("predict with a missing model", ["predict", "{photo}", "--model", "{tmp}/none.keras"], "does not exist"),
    ("predict on a file that is no image", ["predict", "{tmp}/bad.toml", "--model", "{model}"],
     "cannot read '{tmp}/bad.toml' as an image: "),
    ("model that is no .keras file", ["predict", "{photo}", "--model", "{tmp}/bad.toml"], "is not a .keras file"),
    ("corrupt model file", ["predict", "{photo}", "--model", "{tmp}/broken.keras"], "cannot load"),
    ("benchmark with a missing model", ["benchmark", "{tmp}/none.keras"], "does not exist"),
    ("evaluate on classes the model lacks", ["evaluate", "--model", "{model}", "--data", "{tmp}/letters"],
     "class folders ['a', 'b']"),
    ("evaluate a split that is not there", ["evaluate", "--model", "{model}", "--data", "{photos}", "--split", "test"],
     "has no test/ folder"),
    ("export over an existing version", ["export", "{model}", "{tmp}/exports", "--data", str(DEMO_DATA),
                                         "--formats", "onnx"], "already exists"),
]


@pytest.mark.parametrize("arguments, message", [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_bad_input_is_one_typed_error_line_and_leaves_nothing(arguments, message, tmp_path, request, capsys):
    values = _setup(tmp_path)
    if any("{model}" in a for a in arguments):
        values["model"] = request.getfixturevalue("demo_run") / "model.keras"
    before = _listing(tmp_path)
    capsys.readouterr()
    assert cli.main([a.format(**values) for a in arguments]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kerastl: error: ") and len(err.strip().splitlines()) == 1, err
    assert message.format(**values) in err and "Traceback" not in err and "{{function_node" not in err
    assert _listing(tmp_path) == before  # nothing written, nothing stale left


@pytest.mark.e2e
def test_a_failed_export_says_how_to_keep_or_skip_the_failing_artefacts(demo_run, tmp_path, monkeypatch, capsys):
    export_module = sys.modules["kerastl.export"]  # the package; kerastl.export is the function
    monkeypatch.setitem(export_module.THRESHOLDS, "onnx", ("max_abs_diff", -1.0))
    code = cli.main(["export", str(demo_run / "model.keras"), str(tmp_path), "--data", str(DEMO_DATA),
                     "--formats", "onnx"])
    err = capsys.readouterr().err
    assert code == 2 and "['onnx']" in err and "--keep-failed" in err and "--quantize" in err
    assert list(tmp_path.iterdir()) == []


def test_evaluate_maps_folders_to_labels_by_name_and_scores_the_whole_folder(demo_run, tmp_path, capsys):
    metrics = json.loads((demo_run / "metrics.json").read_text())
    model = str(demo_run / "model.keras")

    def evaluate(*args):
        capsys.readouterr()
        assert cli.main(["evaluate", "--model", model, *args]) == 0
        return json.loads(capsys.readouterr().out.splitlines()[-1])

    held_out = evaluate("--data", str(DEMO_DATA))  # train/ + val/: the val split by default
    assert (held_out["split"], held_out["images"]) == ("val", 200)
    assert held_out["accuracy"] == metrics["val_accuracy"]  # the same images, decoded the same way
    # A folder holding only classes 3 and 7: scored against outputs 3 and 7, not positions 0 and 1.
    two = photo_folder(tmp_path / "two", classes=("3", "7"), per_class=20, split="val")
    first = sorted((two / "7").iterdir())[0]
    (two / "7" / "cut.jpg").write_bytes(first.read_bytes()[:300])  # a JPEG header, then nothing: fails to decode
    with pytest.warns(UserWarning, match=r"failed to decode.*cut\.jpg"):
        result = evaluate("--data", str(two))
    assert (result["split"], result["images"], result["classes"]) == ("all", 40, ["3", "7"])
    assert result["skipped_unreadable"] == 1
    rows = metrics["confusion_matrix"]
    expected = (rows[3][3] + rows[7][7]) / 40  # the same 40 photos, from the run's confusion matrix
    assert result["accuracy"] == pytest.approx(expected, abs=1e-4) and result["accuracy"] > 0.2  # by position: ~0
    assert evaluate("--data", str(two), "--split", "val")["images"] == 8  # the seeded 20 % of a <class>/ folder


def test_every_training_option_has_one_definition(tmp_path, monkeypatch, capsys):
    shared = set(inspect.signature(kerastl.fine_tune).parameters) & set(train_options.OPTIONS)
    assert shared >= {"recipe", "head_epochs", "fine_tune_epochs", "unfreeze_blocks", "learning_rate",
                      "fine_tune_lr_factor", "train_bn"}
    for name in shared:
        assert inspect.signature(kerastl.fine_tune).parameters[name].default == train_options.default(name), name
    for path in sorted((cli.Path(__file__).parent.parent / "zoo").glob("*.toml")):
        train_options.read_recipe(path)  # every shipped recipe is valid

    # One edit of the table changes the CLI, the .toml validation, the run and its model card.
    option = train_options.OPTIONS["fine_tune_lr_factor"]
    monkeypatch.setitem(train_options.OPTIONS, option.name, dataclasses.replace(option, default=0.25))
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    helped = " ".join(capsys.readouterr().out.split())
    assert "(default: 0.25)" in helped and "(default: 4; two_phase on images: 8)" in helped
    assert train_options.resolve({})["fine_tune_lr_factor"] == 0.25
    (tmp_path / "r.toml").write_text("fine_tune_lr_factor = 0\n")
    with pytest.raises(kerastl.InvalidArgumentError, match="fine_tune_lr_factor must be > 0"):
        train_options.read_recipe(tmp_path / "r.toml")
    out = tmp_path / "run"
    assert cli.main(["train", "--data", str(photo_folder(tmp_path / "photos", per_class=4)), "--out", str(out),
                     "--image-size", "32", "--head-epochs", "2", "--fine-tune-epochs", "1", "--unfreeze-blocks", "1",
                     "--no-export"]) == 0
    assert json.loads((out / "metrics.json").read_text())["fine_tune_lr_factor"] == 0.25
    card = (out / "MODEL_CARD.md").read_text()
    assert "then 1 epochs with the top 1 blocks trainable at lr 0.00025" in card
    assert "lr 0.00025" in capsys.readouterr().out


def test_cli_list_info_and_unknown_name(capsys):
    from kerastl.zoo import list_backbones

    assert cli.main(["list", "resnet*", "--source", "keras.applications"]) == 0
    assert capsys.readouterr().out.split() == list_backbones("resnet*", source="keras.applications")
    assert cli.main(["info", "efficientnet"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "efficientnetb0"
    assert cli.main(["info", "resnett"]) == 2
    assert "Did you mean" in capsys.readouterr().err


def test_predict_prints_top_labels_per_image(demo_run, capsys):
    images = sorted((DEMO_DATA / "val" / "3").iterdir())[:2]
    capsys.readouterr()
    assert cli.main(["predict", *map(str, images), "--model", str(demo_run / "model.keras"), "--top", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(len(line.split("\t")) == 3 for line in lines)
    labels, probabilities = zip(*(cell.split(":") for cell in lines[0].split("\t")[1:]))
    assert set(labels) <= {str(i) for i in range(10)} and 0 <= float(probabilities[1]) <= float(probabilities[0]) <= 1


def test_cli_benchmark_reports_latency_per_batch_size(tmp_path, capsys):
    model = kerastl.build("mobilenet_v2", num_classes=3, weights=None, input_shape=(32, 32, 3))
    model.save(tmp_path / "m.keras")
    assert cli.main(["benchmark", str(tmp_path / "m.keras"), "--batch-sizes", "1", "4", "--repeats", "3"]) == 0
    rows = json.loads(capsys.readouterr().out)["keras_predict_on_batch"]
    assert set(rows) == {"1", "4"} and all(r["p50_ms"] > 0 and r["images_per_second"] > 0 for r in rows.values())


@pytest.mark.e2e
def test_cli_export_uses_the_folder_class_names_as_labels(demo_run, tmp_path):
    args = [str(demo_run / "model.keras"), str(tmp_path / "out"), "--data", str(DEMO_DATA), "--name", "digits",
            "--version", "2", "--formats", "onnx"]
    assert cli.main(["export", *args]) == 0
    version_dir = tmp_path / "out" / "digits" / "2"
    assert (version_dir / "labels.txt").read_text().split() == [str(i) for i in range(10)]
    assert json.loads((version_dir / "export_report.json").read_text())["images"] == 200
    shutil.rmtree(version_dir / "onnx")
    assert cli.main(["export", *args]) == 2  # the version exists: a typed error, exit status 2

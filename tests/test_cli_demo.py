import json
import subprocess
import sys
from pathlib import Path

import pytest

import kerastl
from kerastl import cli, demo
from kerastl.data import image_folder
from kerastl.zoo import list_backbones

ROOT = __import__("tests.conftest", fromlist=["ROOT"]).ROOT


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "kerastl", *args], capture_output=True, text=True, timeout=300)


def test_cli_list_info_and_unknown_name():
    out = run_cli("list", "resnet*", "--source", "keras.applications")
    assert out.returncode == 0 and out.stdout.split() == list_backbones("resnet*", source="keras.applications")
    info = json.loads(run_cli("info", "efficientnet").stdout)
    assert info["name"] == "efficientnetb0"
    bad = run_cli("info", "resnett")
    assert bad.returncode == 2 and "Did you mean" in bad.stderr and "Traceback" not in bad.stderr


def test_readme_zoo_table_is_generated_from_the_registry():
    names = list_backbones(source="keras.applications") + list_backbones(source="kerastl")
    assert cli.zoo_table(names) in (ROOT / "README.md").read_text()


def test_bundled_demo_data_has_fixed_train_and_val_splits():
    data = image_folder(demo.DATA, image_size=(32, 32), batch_size=64)
    assert data.class_names == [str(i) for i in range(10)]
    counts = [sum(int(y.shape[0]) for _, y in ds) for ds in (data.train, data.val)]
    assert counts == [500, 200]
    images, labels = next(iter(data.val))
    assert images.shape == (64, 32, 32, 3) and float(images.numpy().max()) > 1.0  # raw pixels, not [0, 1]


def test_image_folder_missing_path_is_a_clear_error(tmp_path):
    from kerastl import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="does not exist"):
        image_folder(tmp_path / "nope")


def test_demo_writes_a_complete_run_directory(tmp_path):
    metrics = demo.run(tmp_path / "demo", head_epochs=20, fine_tune_epochs=1)
    files = sorted(p.name for p in (tmp_path / "demo").iterdir())
    assert files == ["MODEL_CARD.md", "best.keras", "confusion.png", "curves.png", "export", "history.csv",
                     "labels.txt", "metrics.json", "model.keras"]
    assert not (tmp_path / "demo.work").exists()
    saved = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    report = json.loads((tmp_path / "demo" / "export" / "sign_digits" / "1" / "export_report.json").read_text())
    assert set(report["artefacts"]) == set(saved["export"]) == {
        "saved_model", "onnx", "tflite_fp32", "tflite_fp16", "tflite_dynamic", "tflite_int8"}
    assert report["images"] == 200 and all(saved["export"][a]["passed"] for a in ("saved_model", "onnx", "tflite_fp32"))
    assert saved["val_accuracy"] == metrics["val_accuracy"] and sum(map(sum, saved["confusion_matrix"])) == 200
    assert metrics["val_accuracy"] >= 0.7  # pretrained features on 10 classes; chance is 0.1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dir left behind


def test_readme_quickstart_example_runs():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")], capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    accuracy = float(out.stdout.split("'accuracy': ")[1].split(",")[0])
    assert accuracy >= 0.8


def test_few_shot_split_is_disjoint_balanced_and_seeded(tmp_path):
    from kerastl import InvalidArgumentError
    from kerastl.data import few_shot_split

    train, held = few_shot_split(demo.DATA / "train", per_class=5, held_out=100, seed=3)
    assert sorted({label for _, label in train}) == list(range(10)) and len(train) == 50
    assert len(held) == 100 and not {f for f, _ in train} & {f for f, _ in held}
    assert few_shot_split(demo.DATA / "train", 5, 100, seed=3) == (train, held)
    train10, held10 = few_shot_split(demo.DATA / "train", per_class=10, held_out=100, seed=3)
    assert held10 == held and set(train) < set(train10)  # fixed held-out, nested training sets
    with pytest.raises(InvalidArgumentError, match="fewer than per_class=45"):
        few_shot_split(demo.DATA / "train", 45, 100)
    with pytest.raises(InvalidArgumentError, match="no class folders"):
        few_shot_split(tmp_path, 5, 10)


def test_results_md_holds_the_tables_generated_from_the_json():
    sys.path.insert(0, str(ROOT / "bench"))
    import tables

    results = (ROOT / "zoo" / "RESULTS.md").read_text()
    for name, make in tables.TABLES.items():
        assert make() in results, f"zoo/RESULTS.md is out of date for {name}: run bench/tables.py"


def test_cli_train_predict_evaluate_with_a_toml_recipe(tmp_path, capsys):
    from kerastl import cli

    recipe = tmp_path / "quick.toml"
    recipe.write_text('recipe = "two_phase"\nhead_epochs = 5\nfine_tune_epochs = 1\nimage_size = 64\n')
    out = tmp_path / "run"
    assert cli.main(["train", "--data", str(demo.DATA), "--out", str(out), "--recipe", str(recipe),
                     "--unfreeze-blocks", "1", "--no-export"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["MODEL_CARD.md", "best.keras", "confusion.png", "curves.png",
                                                     "history.csv", "labels.txt", "metrics.json", "model.keras"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["head_epochs"], metrics["fine_tune_epochs"], metrics["unfreeze_blocks"], metrics["image_size"]) == (5, 1, 1, 64)
    assert len((out / "history.csv").read_text().splitlines()) == 1 + 5 + 1  # header, head epochs, fine-tune epoch
    assert "efficientnet_lite0" in (out / "MODEL_CARD.md").read_text()
    capsys.readouterr()
    images = sorted((demo.DATA / "val" / "3").iterdir())[:2]
    assert cli.main(["predict", *map(str, images), "--model", str(out / "model.keras"), "--top", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(len(line.split("\t")) == 3 for line in lines)
    probabilities = [float(cell.split(":")[1]) for cell in lines[0].split("\t")[1:]]
    assert 0 <= probabilities[1] <= probabilities[0] <= 1
    assert cli.main(["evaluate", "--model", str(out / "model.keras"), "--data", str(demo.DATA)]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["images"] == 200
    assert cli.main(["predict", str(recipe), "--model", str(out / "model.keras")]) == 2  # not an image
    recipe.write_text("epochs = 3\n")
    assert cli.main(["train", "--data", str(demo.DATA), "--out", str(tmp_path / "r2"), "--recipe", str(recipe)]) == 2


def test_cli_benchmark_reports_latency_per_batch_size(tmp_path, capsys):
    model = kerastl.build("mobilenet_v2", num_classes=3, weights=None, input_shape=(32, 32, 3))
    model.save(tmp_path / "m.keras")
    assert cli.main(["benchmark", str(tmp_path / "m.keras"), "--batch-sizes", "1", "4", "--repeats", "3"]) == 0
    rows = json.loads(capsys.readouterr().out)["keras_predict_on_batch"]
    assert set(rows) == {"1", "4"} and all(r["p50_ms"] > 0 and r["images_per_second"] > 0 for r in rows.values())


def test_zoo_recipes_are_valid_train_options():
    from kerastl.zoo import get

    recipes = sorted((Path(__file__).resolve().parent.parent / "zoo").glob("*.toml"))
    assert len(recipes) >= 2
    for path in recipes:
        options = cli._read_recipe(str(path))  # raises on unknown keys
        assert options["recipe"] in kerastl.train.RECIPES, path
        assert get(options["backbone"]).name == options["backbone"], path

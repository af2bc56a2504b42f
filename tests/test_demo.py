import json
import subprocess
import sys

import pytest

from kerastl import cli, demo
from kerastl.data import image_folder
from kerastl.zoo import list_backbones

from tests.conftest import ROOT, photo_folder


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


@pytest.mark.e2e
def test_demo_writes_a_complete_run_directory(demo_run):
    files = sorted(p.name for p in demo_run.iterdir())
    assert files == ["MODEL_CARD.md", "best.keras", "confusion.png", "curves.png", "history.csv", "labels.txt",
                     "metrics.json", "model.keras"]
    assert [p.name for p in demo_run.parent.iterdir()] == ["run"]  # no <out>.work, no partial directory
    metrics = json.loads((demo_run / "metrics.json").read_text())
    assert sum(map(sum, metrics["confusion_matrix"])) == 200 == metrics["val_images"]
    assert (metrics["image_size"], metrics["head_epochs"], metrics["fine_tune_epochs"]) == (64, 40, 1)
    # the image defaults of two_phase (augmentation turned off by the fixture's flag)
    assert (metrics["augment"], metrics["label_smoothing"], metrics["schedule"]) == ("none", 0.1, "cosine")
    assert metrics["val_accuracy_frozen"] >= 0.6  # pretrained features at 64 px on 10 classes; chance is 0.1
    assert (demo_run / "labels.txt").read_text().split() == [str(i) for i in range(10)]
    with open(demo_run / "history.csv") as f:
        assert [row.split(",")[0] for row in f.read().splitlines()[1:]] == ["head"] * 40 + ["fine_tune"]
    card = (demo_run / "MODEL_CARD.md").read_text()
    assert "`efficientnet_lite0`" in card and f"{metrics['val_accuracy']:.3f}" in card
    # the final model is phase 1's or a better fine-tuning epoch, never a worse one
    assert metrics["selected"]["phase"] in ("head", "fine_tune") and metrics["val_accuracy"] >= metrics["val_accuracy_frozen"]


@pytest.mark.e2e
def test_a_test_split_is_reported_and_never_chooses_the_model(tmp_path):
    import shutil

    import keras
    import numpy as np

    from kerastl.data import pixels
    from kerastl.train.run import train_run

    data = tmp_path / "photos"
    photo_folder(data / "train", per_class=6)
    photo_folder(data / "val", per_class=4, split="val")
    for name in ("0", "1", "2"):  # other photos than val's
        (data / "test" / name).mkdir(parents=True)
        for photo in sorted((demo.DATA / "val" / name).iterdir())[4:8]:
            shutil.copy(photo, data / "test" / name / photo.name)
    metrics = train_run(data, tmp_path / "run", export=False, image_size=32, head_epochs=3, fine_tune_epochs=1,
                        unfreeze_blocks=1)
    files = sorted((data / "test").rglob("*.JPG"))
    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    predicted = model.predict(pixels.files(files, (32, 32)).batch(8), verbose=0).argmax(-1)
    expected = float((predicted == np.array([int(f.parent.name) for f in files])).mean())
    assert (metrics["val_images"], metrics["test_images"]) == (12, 12)
    assert metrics["test_accuracy"] == round(expected, 4) and metrics["selected"]["monitor"] == "val_accuracy"
    card = (tmp_path / "run" / "MODEL_CARD.md").read_text()
    assert f"**Test accuracy** (12 images of test/, never used to choose): {expected:.3f}" in card


@pytest.mark.e2e
def test_readme_quickstart_example_runs():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py"), "64"], capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    accuracy = float(out.stdout.split("'accuracy': ")[1].split(",")[0])
    assert accuracy >= 0.7  # 64 px; measured 0.94 at the example's default 224 px


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


def test_zoo_recipes_are_valid_train_options():
    from kerastl.train.options import read_recipe
    from kerastl.zoo import get

    recipes = sorted((ROOT / "zoo").glob("*.toml"))
    assert len(recipes) >= 2
    for path in recipes:
        options = read_recipe(path)  # raises on unknown keys and wrong types
        assert get(options["backbone"]).name == options["backbone"], path


def test_the_default_on_images_is_the_measured_augmented_recipe_and_only_for_two_phase():
    from kerastl.train.options import read_recipe, resolve

    measured = read_recipe(ROOT / "zoo" / "efficientnet_lite0_augmented.toml")  # what bench/recipes.py measures
    on_images = resolve({}, images=True)
    assert {k: on_images[k] for k in measured} == measured
    old = read_recipe(ROOT / "zoo" / "efficientnet_lite0_two_phase.toml")  # the previous default
    assert {k: v for k, v in resolve({}).items() if k in old} == old  # fine_tune's and audio's defaults
    for values in ({"recipe": "feature_extraction"}, {"recipe": "gradual"}, {"fine_tune_epochs": 0}):
        assert resolve(values, images=True) == resolve(values)  # not measured with it: the generic defaults
    assert resolve({"augment": "none"}, images=True)["augment"] == "none"  # a value given wins

"""A 50,000-image folder through the streaming loader: indexing, input pipeline, phase 1, fine-tuning, peak RAM.

    .venv/bin/python bench/scale.py [--images 50000] [--old-images 5000] [--steps 200]

Generates `--images` JPEGs into a temporary folder (random crops and rescalings, 100-160 px, of the 2062
sign-digit photos of ../shared, 10 class folders; plus 3 truncated JPEGs and 2 non-images in the middle),
then runs each loader in its own process, so each peak RSS (`ru_maxrss`) is that loader's alone:

- new: `kerastl.data.image_folder` (headers only at indexing, decoding in the tf.data map, uint8 caches
  within `memory_gb` 2, on disk past it), then the input pipeline alone, then the plain recipe's
  phase 1 (`fit_head`: Lite0 224 px over every training image, 5 head epochs, features spilled past
  2 GB) and `--steps` fine-tuning steps (top 3 blocks, batch 32).
- old (the loader before this change, kept here to compare): every file decoded while indexing, then
  every decoded image cached in RAM as float32 (602 KB per image at 224 px), on `--old-images` images,
  where it fits this machine; the new loader's figures on the same subset sit beside it.

The input pipeline must feed more than twice the images/s that training consumes.
"""
import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SIGN_DIGITS, write_result  # noqa: E402

SIZE = 224


def _write_images(job: tuple[int, int, str, list[tuple[str, str]]]) -> int:
    from PIL import Image

    start, count, folder, sources = job
    rng = random.Random(start)
    for i in range(start, start + count):
        source, label = sources[i % len(sources)]
        image = Image.open(source).convert("RGB")
        w, h = image.size
        crop = rng.uniform(0.6, 1.0)
        cw, ch = int(w * crop), int(h * crop)
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        side = rng.randint(100, 160)
        image.crop((x, y, x + cw, y + ch)).resize((side, side)).save(Path(folder) / label / f"{i:06d}.jpg", quality=90)
    return count


def generate(folder: Path, images: int) -> list[str]:
    """`images` JPEGs in `folder/<digit>/`, plus broken files in the middle; returns the broken files."""
    sources = sorted((str(p), p.parent.name) for p in SIGN_DIGITS.glob("*/*.JPG"))
    random.Random(0).shuffle(sources)  # every class in any prefix
    for label in {label for _, label in sources}:
        (folder / label).mkdir(parents=True)
    chunk = 2500
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(_write_images, [(s, min(chunk, images - s), str(folder), sources) for s in range(0, images, chunk)]))
    broken = []
    for label in ("3", "5", "7"):
        files = sorted((folder / label).glob("*.jpg"))
        middle = files[len(files) // 2]
        broken.append(middle.with_name(f"{middle.stem}-truncated.jpg"))
        broken[-1].write_bytes(middle.read_bytes()[: middle.stat().st_size // 3])
    for label in ("2", "8"):
        broken.append(folder / label / "notes.jpg")
        broken[-1].write_text("not an image")
    return sorted(map(str, broken))


def peak_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2)


def pipeline_rate(dataset, batches: int | None) -> float:
    """Images/s of iterating `dataset` alone, `batches` batches or (None) one whole pass."""
    start, count = time.perf_counter(), 0
    for i, (_, labels) in enumerate(dataset):
        count += int(labels.shape[0])
        if i + 1 == batches:
            break
    return round(count / (time.perf_counter() - start), 1)


def old_loader(folder: Path):
    """The loader before streaming: decode every file while indexing, cache float32 pixels in RAM."""
    import tensorflow as tf

    from kerastl.data import pixels

    pairs, skipped = [], 0
    names = sorted(d.name for d in folder.iterdir())
    for label, name in enumerate(names):
        for path in sorted((folder / name).iterdir()):
            try:
                pixels.decode(tf.io.read_file(str(path)))
                pairs.append((str(path), label))
            except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
                skipped += 1
    labels = tf.data.Dataset.from_tensor_slices(tf.constant([y for _, y in pairs], tf.int32))
    ds = tf.data.Dataset.zip(pixels.files([f for f, _ in pairs], (SIZE, SIZE)), labels).cache()
    return ds.shuffle(len(pairs), seed=0, reshuffle_each_iteration=True).batch(32).prefetch(tf.data.AUTOTUNE), skipped


def worker(loader: str, folder: Path, cache: Path, steps: int, train: bool) -> dict:
    import keras

    import kerastl
    from kerastl.data import image_folder
    from kerastl.freeze import unfreeze
    from kerastl.models import compile_task
    from kerastl.train import fit_head

    row = {"loader": loader, "peak_rss_gb": {"start": peak_gb()}}
    start = time.perf_counter()
    if loader == "old":
        train_data, skipped = old_loader(folder)
        row["indexing_skipped"] = skipped
    else:
        data = image_folder(folder, image_size=(SIZE, SIZE), validation_split=0.02, cache_dir=cache)
        train_data = data.train
        row["indexing_skipped"] = len(data.skipped)
    row["indexing_seconds"] = round(time.perf_counter() - start, 2)
    row["peak_rss_gb"]["indexing"] = peak_gb()
    row["pipeline_images_per_s"] = pipeline_rate(train_data, 150 if train else None)  # subset: a whole pass
    row["peak_rss_gb"]["pipeline"] = peak_gb()
    if not train:
        return row
    keras.utils.set_random_seed(0)
    model = kerastl.build("efficientnet_lite0", num_classes=len(data.class_names))
    start = time.perf_counter()
    history = fit_head(model, data.train, data.val, epochs=5, cache_dir=cache)
    row["phase_1_seconds"] = round(time.perf_counter() - start, 1)
    row["phase_1_images"] = data.count("train") + data.count("val")
    row["phase_1_images_per_s"] = round(row["phase_1_images"] / row["phase_1_seconds"], 1)
    row["phase_1_val_accuracy"] = round(history.history["val_accuracy"][-1], 4)
    row["skipped_after_phase_1"] = sorted(data.skipped)
    row["peak_rss_gb"]["phase_1"] = peak_gb()
    unfreeze(model, 3)
    compile_task(model, keras.optimizers.Adam(1e-4))
    model.fit(data.train.take(3), verbose=0)  # warm-up: tracing is not training throughput
    start = time.perf_counter()
    model.fit(data.train.take(steps), verbose=0)
    row["fine_tune_images_per_s"] = round(steps * 32 / (time.perf_counter() - start), 1)
    row["peak_rss_gb"]["fine_tune"] = peak_gb()
    row["pipeline_over_training"] = round(row["pipeline_images_per_s"] / row["fine_tune_images_per_s"], 2)
    row["pipeline_over_phase_1"] = round(row["pipeline_images_per_s"] / row["phase_1_images_per_s"], 2)
    return row


def run_worker(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--old-images", type=int, default=5_000)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--worker", nargs=5, metavar=("LOADER", "FOLDER", "CACHE", "STEPS", "TRAIN"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        loader, folder, cache, steps, train = args.worker
        print(json.dumps(worker(loader, Path(folder), Path(cache), int(steps), train == "1")))
        return
    with tempfile.TemporaryDirectory(prefix="kerastl-scale-") as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        broken = generate(tmp / "images", args.images)
        generated = round(time.perf_counter() - start, 1)
        subset = tmp / "subset"
        for label in sorted(p.name for p in (tmp / "images").iterdir()):
            (subset / label).mkdir(parents=True)
            for path in sorted((tmp / "images" / label).glob("*.jpg"))[: args.old_images // 10]:
                (subset / label / path.name).symlink_to(path)
        rows = {"subset": [run_worker(loader, str(subset), str(tmp / f"cache-{loader}"), "0", "0")
                           for loader in ("old", "new")]}
        shutil.rmtree(tmp / "cache-new", ignore_errors=True)
        rows["full"] = run_worker("new", str(tmp / "images"), str(tmp / "cache-full"), str(args.steps), "1")
    full = rows["full"]
    write_result("scale", {
        "images": args.images, "image_size": SIZE, "generated_seconds": generated, "broken_files": len(broken),
        "subset_images": args.old_images, "fine_tune_steps": args.steps, **rows,
        "meets": {"peak_rss_le_4gb": max(full["peak_rss_gb"].values()) <= 4.0,
                  "indexing_le_15s": full["indexing_seconds"] <= 15,
                  "pipeline_ge_2x_training": full["pipeline_over_training"] >= 2,
                  "broken_files_skipped": full["skipped_after_phase_1"] == broken},
    }, " ".join(["python bench/scale.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()

"""Rebuild kerastl/assets/sign_digits/ (the demo's bundled images) from the full Sign Language Digits
data set: per class, a seeded shuffle, the first 50 images -> train/, the next 20 -> val/.

    python zoo/provenance/make_sign_digits_subset.py ../shared/data/sign_digits kerastl/assets/sign_digits
"""
import random
import shutil
import sys
from pathlib import Path

TRAIN, VAL, SEED = 50, 20, 0


def main(source: str, target: str) -> None:
    source_dir, target_dir = Path(source), Path(target)
    for class_dir in sorted(p for p in source_dir.iterdir() if p.is_dir()):
        files = sorted(class_dir.glob("*.JPG")) + sorted(class_dir.glob("*.jpg"))
        random.Random(f"{SEED}-{class_dir.name}").shuffle(files)
        for split, chosen in (("train", files[:TRAIN]), ("val", files[TRAIN:TRAIN + VAL])):
            out = target_dir / split / class_dir.name
            out.mkdir(parents=True, exist_ok=True)
            for f in chosen:
                shutil.copy2(f, out / f.name)
    shutil.copy2(source_dir / "LICENSE", target_dir / "LICENSE")


if __name__ == "__main__":
    main(*sys.argv[1:3])

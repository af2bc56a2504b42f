"""Markdown tables of zoo/results/*.json for zoo/RESULTS.md (a test checks RESULTS.md contains them).

    .venv/bin/python bench/tables.py
"""
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "zoo" / "results"


def _load(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def feature_cache() -> str:
    r = _load("feature_cache")
    return "\n".join([
        "| loop | seconds (mean) | held-out accuracy (mean of seeds) |", "|---|---|---|",
        f"| plain `model.fit` (backbone recomputed every epoch) | {r['seconds_plain']} | {r['acc_plain']:.3f} |",
        f"| `kerastl.train.fit_head` (backbone once, head on cached features) | {r['seconds_cached']} | {r['acc_cached']:.3f} |",
        f"| **speedup** | **{r['speedup']}×** | Δ {100 * (r['acc_cached'] - r['acc_plain']):+.1f} points |",
    ])


def few_shot() -> str:
    rows = _load("few_shot")["rows"]
    shots = sorted({r["shots_per_class"] for r in rows})
    lines = ["| recipe | weights | " + " | ".join(f"{s} / class" for s in shots) + " | train s (50 / class) |",
             "|---|---|" + "---|" * (len(shots) + 1)]
    for recipe in ("two_phase", "full"):
        for weights in ("imagenet", "scratch"):
            cells = {r["shots_per_class"]: r for r in rows if r["recipe"] == recipe and r["weights"] == weights}
            lines.append(f"| {recipe} | {weights} | " + " | ".join(f"{cells[s]['accuracy']:.3f}" for s in shots)
                         + f" | {cells[shots[-1]]['train_seconds']} |")
    return "\n".join(lines)


def freeze_depth() -> str:
    r = _load("freeze_depth")
    lines = ["| frozen up to (inclusive) | trainable params | accuracy (mean) | per seed | train s |", "|---|---|---|---|---|"]
    for row in r["rows"]:
        lines.append(f"| {row['frozen_upto']} | {row['trainable_params']:,} | {row['accuracy']:.3f} | "
                     f"{', '.join(f'{a:.3f}' for a in row['accuracy_per_seed'])} | {row['train_seconds']} |")
    return "\n".join(lines)


def export() -> str:
    r = _load("export")
    k = r["keras_predict"]
    lines = ["| artefact | size (MB) | p50 batch 1 (ms) | p50 batch 32 (ms) | top-1 agreement | max abs diff (probabilities) | threshold met |",
             "|---|---|---|---|---|---|---|",
             f"| Keras `predict` | – | {k['p50_ms_b1']:.1f} | {k['p50_ms_b32']:.1f} | – | – | – |"]
    for name, row in r["artefacts"].items():
        lines.append(f"| {name} | {row['size_bytes'] / 1e6:.2f} | {row['p50_ms_b1']:.1f} | {row['p50_ms_b32']:.1f} | "
                     f"{row['top1_agreement']:.3f} | {row['max_abs_diff']:.1e} | {'yes' if row['passed'] else '**no**'} |")
    return "\n".join(lines)


def precision() -> str:
    r = _load("precision")
    lines = ["| precision | step (ms) | speed vs float32 | held-out accuracy |", "|---|---|---|---|"]
    for row in r["rows"]:
        speed = f"{row['speedup_vs_float32']}×" if "speedup_vs_float32" in row else "–"
        lines.append(f"| {row['precision']} | {row['step_ms'] or '–'} | {speed} | {row['accuracy']:.3f} |")
    return "\n".join(lines)


def domain_adaptation() -> str:
    r = _load("domain_adaptation")
    lines = ["| method | weight | source held-out accuracy | target (shifted) accuracy |", "|---|---|---|---|"]
    for row in r["rows"]:
        lines.append(f"| {row['method']} | {row.get('weight', '–')} | {row['source_accuracy']:.3f} | {row['target_accuracy']:.3f} |")
    return "\n".join(lines)


def text() -> str:
    r = _load("text")
    lines = ["| model | held-out (amazon + yelp) | IMDb (shift) | train (s) |", "|---|---|---|---|"]
    for row in r["rows"]:
        lines.append(f"| {row['model']} | {row['held_out']:.3f} | {row['imdb']:.3f} | {row['train_seconds']} |")
    return "\n".join(lines)


TABLES = {"feature_cache": feature_cache, "few_shot": few_shot, "freeze_depth": freeze_depth, "export": export, "precision": precision,
          "domain_adaptation": domain_adaptation, "text": text}

if __name__ == "__main__":
    for name, make in TABLES.items():
        print(f"## {name}\n\n{make()}\n")

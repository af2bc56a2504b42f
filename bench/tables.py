"""Markdown tables of zoo/results/*.json for zoo/RESULTS.md (a test checks RESULTS.md contains them).

    .venv/bin/python bench/tables.py
"""
import json
from statistics import mean
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "zoo" / "results"


def _load(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def _markdown(header: list[str], rows) -> str:
    """A Markdown table: `header` names the columns, each row is a list of already formatted cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows])


def feature_cache() -> str:
    r = _load("feature_cache")
    return _markdown(["loop", "seconds (mean)", "held-out accuracy (mean of seeds)"], [
        ["plain `model.fit` (backbone recomputed every epoch)", r["seconds_plain"], f"{r['acc_plain']:.3f}"],
        ["`kerastl.train.fit_head` (backbone once, head on cached features)", r["seconds_cached"], f"{r['acc_cached']:.3f}"],
        ["**speedup**", f"**{r['speedup']}×**", f"Δ {100 * (r['acc_cached'] - r['acc_plain']):+.1f} points"],
    ])


def few_shot() -> str:
    rows = _load("few_shot")["rows"]
    shots = sorted({r["shots_per_class"] for r in rows})
    table = []
    for recipe in ("two_phase", "full"):
        for weights in ("imagenet", "scratch"):
            cells = {r["shots_per_class"]: r for r in rows if r["recipe"] == recipe and r["weights"] == weights}
            table.append([recipe, weights, *(f"{cells[s]['accuracy']:.3f}" for s in shots), cells[shots[-1]]["train_seconds"]])
    return _markdown(["recipe", "weights", *(f"{s} / class" for s in shots), "train s (50 / class)"], table)


def freeze_depth() -> str:
    return _markdown(["frozen up to (inclusive)", "trainable params", "accuracy (mean)", "per seed", "train s"], [
        [row["frozen_upto"], f"{row['trainable_params']:,}", f"{row['accuracy']:.3f}",
         ", ".join(f"{a:.3f}" for a in row["accuracy_per_seed"]), row["train_seconds"]]
        for row in _load("freeze_depth")["rows"]])


def export() -> str:
    r = _load("export")
    k = r["keras_predict"]
    return _markdown(
        ["artefact", "size (MB)", "p50 batch 1 (ms)", "p50 batch 32 (ms)", "top-1 agreement", "max abs diff (probabilities)", "threshold met"],
        [["Keras `predict`", "–", f"{k['p50_ms_b1']:.1f}", f"{k['p50_ms_b32']:.1f}", "–", "–", "–"]]
        + [[name, f"{row['size_bytes'] / 1e6:.2f}", f"{row['p50_ms_b1']:.1f}", f"{row['p50_ms_b32']:.1f}",
            f"{row['top1_agreement']:.3f}", f"{row['max_abs_diff']:.1e}", "yes" if row["passed"] else "**no**"]
           for name, row in r["artefacts"].items()])


def quantization() -> str:
    return _markdown(["TFLite variant", "size vs fp32", "top-1 agreement", "max abs diff (probabilities)"], [
        [name, f"{row['size_vs_fp32']:.2f}", f"{row['top1_agreement']:.3f}", f"{row['max_abs_diff']:.1e}"]
        for name, row in _load("quantization")["rows"].items()])


def precision() -> str:
    return _markdown(["precision", "step (ms)", "speed vs float32", "held-out accuracy"], [
        [row["precision"], row["step_ms"] or "–", f"{row['speedup_vs_float32']}×" if "speedup_vs_float32" in row else "–",
         f"{row['accuracy']:.3f}"]
        for row in _load("precision")["rows"]])


def domain_adaptation() -> str:
    r = _load("domain_adaptation")
    chosen = [row["weight"] for row in r["rows"] if row["method"].startswith("dann, λ chosen")]
    return _markdown(["method", "weight", "source held-out accuracy", "target (shifted) accuracy", "target, per seed"], [
        [row["method"], ", ".join(map(str, chosen)) if row["method"].startswith("dann, λ chosen")
         else "–" if row["weight"] is None else row["weight"],
         f"{row['source_accuracy_mean']:.3f} ± {row['source_accuracy_std']:.3f}",
         f"**{row['target_accuracy_mean']:.3f}** ± {row['target_accuracy_std']:.3f}",
         ", ".join(f"{a:.3f}" for a in row["target_per_seed"])] for row in r["summary"]])


def recipes(result: str = "recipes") -> str:
    return _markdown(["backbone", "images / class", "recipe", "held-out accuracy", "per seed", "train s (mean)"], [
        [row["backbone"], row["shots"], row["recipe"], f"**{row['mean']:.3f}** ± {row['std']:.3f}",
         ", ".join(f"{a:.3f}" for a in row["per_seed"]), row["train_seconds"] or "–"]
        for row in _load(result)["summary"]])


def recipe_selection() -> str:
    r = _load("recipe_selection")
    return _markdown(["variant of the augmented recipe", "validation accuracy (mean)", "per seed",
                      "held-out accuracy (mean)", "per seed"], [
        [row["variant"] + (" (chosen)" if row["variant"] == r["chosen"] else ""), f"**{row['val_mean']:.3f}**",
         ", ".join(f"{a:.3f}" for a in row["val_per_seed"]), f"{row['held_out_mean']:.3f}",
         ", ".join(f"{a:.3f}" for a in row["held_out_per_seed"])] for row in r["summary"]])


def text() -> str:
    return _markdown(["model", "held-out (amazon + yelp)", "IMDb (shift)", "train (s)"], [
        [row["model"], f"{row['held_out']:.3f}", f"{row['imdb']:.3f}", row["train_seconds"]]
        for row in _load("text")["rows"]])


def mobile(result: str = "mobile") -> str:
    """The exports' table of `result`; the agreement with ties excused where the bench measured it."""
    ties = all("tie_tolerant_agreement" in row for measured in _load(result)["models"].values()
               for row in measured["rows"].values())
    table = []
    for model, measured in _load(result)["models"].items():
        for mode, row in measured["rows"].items():
            end_to_end = (f"{row['mediapipe_agreement']:.3f} / {row['mediapipe_accuracy']:.3f} / {row['mediapipe_p50_ms']:.1f}"
                          if row["mediapipe_agreement"] is not None else f"refused: {row['refused']}")
            table.append([model if mode == "fp32" else "", f"{measured['keras_accuracy']:.3f}" if mode == "fp32" else "",
                          _variant(mode, row), f"{row['size_mb']:.2f} ({row['size_vs_fp32']:.0%})", f"{row['p50_ms_b1']:.2f}",
                          f"{row['top1_agreement']:.3f}", *([f"{row['tie_tolerant_agreement']:.3f}"] if ties else []),
                          f"{row['max_abs_diff']:.1e}", end_to_end,
                          _optional(row.get("mediapipe_file_reader_agreement")), "yes" if row["passed"] else "**no**"])
    return _markdown(["model", "Keras held-out accuracy", "TFLite variant", "size MB (vs fp32)", "LiteRT p50 batch 1 (ms)",
                      "top-1 agreement with Keras", *(["the same, ties excused"] if ties else []),
                      "max abs diff (probabilities)", "MediaPipe end to end: agreement / accuracy / p50 ms",
                      "MediaPipe, files its Python reader decodes: agreement", "threshold met"], table)


# side-by-side variants whose int8 softmax rounds unlikely classes' probabilities to 0: no log-score change
HEAD_IN_INT8 = ("int8, head in int8", "int8, stem stage alone in float")


def input_changes(result: str) -> str:
    """Each model's side-by-side 8-bit files (not HEAD_IN_INT8) beside the float model on its own photos
    changed a little."""
    table = []
    for model, measured in _load(result)["models"].items():
        side = measured["side_by_side"]
        rows = [(f"float model, photos {change}", row) for change, row in side["float_input_changes"].items()]
        rows += [(_side_names("", SELECT_FIRST)[variant], row) for variant, row in side["scores"].items()
                 if variant not in ("fp32", *HEAD_IN_INT8)]
        for i, (name, row) in enumerate(rows):
            table.append([model if i == 0 else "", name, f"{row['log_score_rms']:.3f}", f"{row['top1_agreement']:.3f}",
                          f"{row['tie_tolerant_agreement']:.3f}"])
    return _markdown(["model", "against the float model on its held-out photos", "log-score change (rms, centred)",
                      "top-1 agreement", "the same, ties excused"], table)


def _variant(mode: str, row: dict) -> str:
    """A mobile row's variant; int8 with the downsampling blocks its export chose to keep in float."""
    return f"{mode} ({row['float_ops']['float_blocks']} block(s) in float)" if "float_ops" in row else mode


def _optional(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _side_names(shipped: str, int8: str = "") -> dict[str, str]:
    """The row label of each side-by-side variant of bench/mobile.py; see `mobile_speed`."""
    return {"int8": int8 or f"int8 (shipped: {shipped} in float)", "fp32": "fp32",
            "int8, normalisation only": "int8, only the normalisation in float", "int16x8": "int16x8 (not shipped)",
            "int8, layer by layer": "int8, kernels rounded layer by layer (kerastl before 2026-12-04)",
            "int8, stem stage alone in float": "int8, normalisation and stem stage alone in float (kerastl's earlier rule)",
            "int8, head in int8": "int8, the same with the head in int8",
            "int8, two blocks in float": "int8, two downsampling blocks and head in float (select_int8's next rule)"}


def mobile_speed(result: str = "mobile", shipped: str = "normalisation and stem stage", int8: str = "") -> str:
    """The side-by-side table of `result`; `shipped`: what its shipped int8 keeps in float (`int8`: the
    int8 row's whole label instead). The error per photo (Σ over classes of the squared probability
    difference, mean) where the bench measured it."""
    names = _side_names(shipped, int8)
    squared = all("mean_squared_diff" in score for measured in _load(result)["models"].values()
                  for score in measured["side_by_side"]["scores"].values())
    table = []
    for model, measured in _load(result)["models"].items():
        side = measured["side_by_side"]
        for i, (variant, score) in enumerate(side["scores"].items()):
            table.append([model if i == 0 else "", names[variant], f"{score['size_vs_fp32']:.1%}",
                          f"{side['p50_ms_b1'][variant]:.2f}", f"{side['speedup_vs_fp32'][variant]}×",
                          f"{score['top1_agreement']:.3f}", f"{score['max_abs_diff']:.3f}"]
                         + ([f"{score['mean_squared_diff']:.1e}"] if squared else []))
    return _markdown(["model", "variant (converted side by side)", "size vs fp32", "p50 batch 1 (ms)", "speed-up vs fp32",
                      "top-1 agreement with Keras", "max abs diff (probabilities)"]
                     + (["mean squared diff per photo (probabilities)"] if squared else []), table)


def int8_noise(top: int = 8, result: str = "int8_noise") -> str:
    r = _load(result)
    rows = sorted(r["tensors"], key=lambda row: -row["share"])[:top]
    return _markdown(["int8 tensor (alone rounded)", "range", "logit MSE", "share of the sum", "top-1 agreement"], [
        *([f"`{row['tensor']}`", f"[{row['range'][0]}, {row['range'][1]}]", f"{row['logit_mse']:.4f}",
           f"{row['share']:.1%}", f"{row['top1_agreement']:.3f}"] for row in rows),
        [f"sum over all {len(r['tensors'])} tensors", "", f"{r['sum_of_single_tensors']:.4f}", "100%", ""],
        ["every tensor rounded at once", "", f"{r['all_tensors']['logit_mse']:.4f}", "",
         f"{r['all_tensors']['top1_agreement']:.3f}"]])


def int8_distill(result: str = "int8_distill") -> str:
    table = []
    for measured in _load(result)["models"].values():
        for variant, row in measured["rows"].items():
            losses = (f"{row['loss_first_tenth']:.4f} → {row['loss_last_tenth']:.4f}" if "loss_first_tenth" in row else "–")
            table.append([variant, f"{row['top1_agreement']:.3f}", f"{row['max_abs_diff']:.3f}",
                          _optional(row.get("float_student_agreement")), losses, row.get("distill_seconds", "–")])
    return _markdown(["int8 variant", "top-1 agreement with Keras", "max abs diff (probabilities)",
                      "its float weights: agreement with Keras", "distillation loss, first → last tenth of steps",
                      "distillation s"], table)


def int8_draws(result: str = "int8_draws") -> str:
    r = _load(result)
    squared = all("mean_squared_diff" in row for rows in r["rows"].values() for row in rows)
    table = []
    for n, rows in r["rows"].items():
        agreement = [row["top1_agreement"] for row in rows]
        table.append([n, " / ".join(f"{a:.3f}" for a in agreement), f"{mean(agreement):.4f}",
                      f"{sum(a >= 0.99 for a in agreement)} of {len(rows)}",
                      f"{mean([row['max_abs_diff'] for row in rows]):.3f}"]
                     + ([f"{mean([row['mean_squared_diff'] for row in rows]):.1e}"] if squared else [])
                     + [f"{mean([row['rounding_seconds'] for row in rows]):.1f}"])
    return _markdown(["kernels rounded on (images)", "top-1 agreement with Keras, draw by draw", "mean",
                      "draws at ≥ 0.99", "mean max abs diff (probabilities)"]
                     + (["mean squared diff per photo (probabilities)"] if squared else []) + ["rounding s"], table)


def int8_selection(result: str) -> str:
    """The draws of `result` that `select_int8` chose in: what it predicted for each rule it tried, what it
    chose, and the held-out disagreements of the chosen file."""
    r = _load(result)
    table = []
    for n, rows in r["rows"].items():
        for row in rows:
            if "float_blocks" in row:
                predicted = ", ".join(f"{t['blocks']}: {t['expected_disagreements']:.2f} (P {t['p_meets_bound']:.3f})"
                                      for t in row["tried"])
                table.append([n.split(",")[0], row["draw"], predicted, row["float_blocks"],
                              round((1 - row["top1_agreement"]) * r["held_out"]), f"{row['top1_agreement']:.3f}"])
    return _markdown(["kernels rounded on (images)", "draw", "predicted disagreements by float blocks "
                      "(P of meeting 0.99)", "blocks chosen", "held-out disagreements", "top-1 agreement"], table)


def int8_unseen(results: dict[str, str]) -> str:
    """Per model (result -> label) and rule: each draw's agreement on the held-out photos and on the unseen
    ones, and select_int8's prediction against the disagreements seen there."""
    table = []
    for result, label in results.items():
        r = _load(result)
        for rule, rows in r["rows"].items():
            held, unseen = [row["top1_agreement"] for row in rows], [row["unseen_top1_agreement"] for row in rows]
            blocks = " / ".join(str(row["float_blocks"]) for row in rows) if "float_blocks" in rows[0] else ""
            table.append([label, rule.split(", ", 1)[1] + (f" (blocks: {blocks})" if blocks else ""),
                          f"{mean([row['size_bytes'] for row in rows]) / 1e6:.2f}",
                          " / ".join(f"{a:.3f}" for a in held), f"{sum(a >= 0.99 for a in held)} of {len(rows)}",
                          " / ".join(f"{a:.4f}" for a in unseen), f"{mean(unseen):.4f}",
                          f"{sum(a >= 0.99 for a in unseen)} of {len(rows)}",
                          f"{mean([row.get('unseen_predicted_disagreements', float('nan')) for row in rows]):.1f} / "
                          f"{mean([(1 - a) * r['unseen'] for a in unseen]):.1f}"])
    r = _load(next(iter(results)))
    return _markdown(["model", "int8 rule", "size (MB)", f"{r['held_out']} held-out: agreement by draw", "≥ 0.99",
                      f"{r['unseen']} unseen: agreement by draw", "mean", "≥ 0.99",
                      "unseen disagreements: predicted / seen (mean)"], table)


LAYER_RULES = {"1 blocks": "normalisation, stem stage, first downsampling block and head (`select_int8`'s first rule)",
               "by gain per byte": "the same and single layers, by predicted gain per float byte",
               "2 blocks": "through the second downsampling block and head", "3 blocks": "through the third",
               "4 blocks": "through the fourth (`select_int8`'s last rule)"}


def int8_layers() -> str:
    """Per rule of `bench/int8_layers.py`: size, prediction and held-out agreement over the draws."""
    draws = _load("int8_layers")["draws"]
    table = []
    for rule, label in LAYER_RULES.items():
        rows = [d["rows"][rule] for d in draws]
        agreement = [r["top1_agreement"] for r in rows]
        added = f" ({mean(len(r['layers_added']) for r in rows):.1f} layers on average)" if rule == "by gain per byte" else ""
        table.append([label + added, f"{100 * mean(r['size_vs_fp32'] for r in rows):.1f}%",
                      " / ".join(f"{r['expected_disagreements']:.2f}" for r in rows),
                      " / ".join(f"{a:.3f}" for a in agreement), f"{mean(agreement):.4f}",
                      f"{sum(a >= 0.99 for a in agreement)} of {len(rows)}"])
    return _markdown(["in float", "size vs fp32 (mean)", "predicted disagreements, draw by draw",
                      "top-1 agreement with Keras, draw by draw", "mean", "draws at ≥ 0.99"], table)


def int8_layer_gains(top: int = 6) -> str:
    """The layers whose float version `bench/int8_layers.py` predicted to gain most (mean over draws), and
    every layer's gains summed against the four-block rule's."""
    draws = _load("int8_layers")["draws"]
    gains, added = {}, {}
    for d in draws:
        for g in d["layer_gains"]:
            gains.setdefault((g["layer"], g["kernel_weights"]), []).append(g["gain"])
            added.setdefault(g["layer"], []).append(g["bytes_added"])
    ranked = sorted(gains.items(), key=lambda item: -mean(item[1]))
    table = [[layer, f"{weights:,}", f"{mean(added[layer]):,.0f}", " / ".join(f"{g:.2f}" for g in per_draw),
              f"{mean(per_draw):.3f}"] for (layer, weights), per_draw in ranked[:top]]
    summed = [sum(g["gain"] for g in d["layer_gains"]) for d in draws]
    blocks = [d["rows"]["1 blocks"]["expected_disagreements"] - d["rows"]["4 blocks"]["expected_disagreements"] for d in draws]
    table += [[f"all {len(gains)} layers, each alone, summed", f"{sum(w for _, w in gains):,}",
               f"{sum(mean(b) for b in added.values()):,.0f}", " / ".join(f"{g:.2f}" for g in summed), f"{mean(summed):.3f}"],
              ["the four-block rule instead of the one-block rule", "–", "–", " / ".join(f"{g:.2f}" for g in blocks),
               f"{mean(blocks):.3f}"]]
    return _markdown(["layer in float (besides the one-block rule)", "kernel weights", "bytes it adds to the file",
                      "predicted gain (disagreements), draw by draw", "mean"], table)


def int8_bytes() -> str:
    """Where the one-block int8 file's bytes go (`bench/int8_layers.py`, its last draw's file)."""
    r = _load("int8_layers")
    total = sum(r["one_block_bytes"].values())
    return _markdown(["part of the file", "bytes", "share of the file", "share of fp32's size"], [
        [kind, f"{size:,}", f"{100 * size / total:.1f}%", f"{100 * size / r['fp32_bytes']:.1f}%"]
        for kind, size in r["one_block_bytes"].items()] + [["whole file", f"{total:,}", "100%", f"{100 * total / r['fp32_bytes']:.1f}%"]])


def int8_latency(result: str = "int8_latency") -> str:
    r = _load(result)
    return _markdown(["file", "p50 batch 1 (ms)", "speed-up vs fp32", "speed-up, slowest and fastest round",
                      "fastest call (ms)", "speed-up, fastest calls"], [
        [name, f"{row['p50_ms_b1']:.2f}", f"{row['speedup_vs_fp32']}×", f"{row['round_speedup_min']}–{row['round_speedup_max']}×",
         f"{row['fastest_ms_b1']:.2f}", f"{row['fastest_speedup_vs_fp32']}×"] for name, row in r["rows"].items()])


def audio() -> str:
    rows = _load("audio")["rows"]
    speakers = list(rows[0]["per_speaker"])
    return _markdown(["recordings per digit per training speaker", "method", "mean accuracy (held-out speaker)",
                      *speakers, "seconds per fold"], [
        [row["per_digit"], row["method"], f"**{row['mean_accuracy']:.3f}**",
         *(f"{row['per_speaker'][s]:.3f}" for s in speakers), row["mean_seconds"]] for row in rows])


def scale() -> str:
    r = _load("scale")
    full, (old, new) = r["full"], r["subset"]
    gb = lambda row: max(row["peak_rss_gb"].values())  # noqa: E731
    rows = [[f"old loader, {r['subset_images']:,} images", old["indexing_seconds"], old["pipeline_images_per_s"],
             "–", "–", gb(old)],
            [f"new loader, {r['subset_images']:,} images", new["indexing_seconds"], new["pipeline_images_per_s"],
             "–", "–", gb(new)],
            [f"new loader, {r['images']:,} images", full["indexing_seconds"], full["pipeline_images_per_s"],
             full["phase_1_images_per_s"], full["fine_tune_images_per_s"], gb(full)]]
    return _markdown(["run", "indexing (s)", "input pipeline alone (images/s)", "phase 1 (images/s)",
                      f"fine-tuning, {r['fine_tune_steps']} steps (images/s)", "peak RSS (GB)"], rows)


SELECT_FIRST = "int8, select_int8's first rule (normalisation, stem stage, first downsampling block and head in float)"
TABLES = {"feature_cache": feature_cache, "few_shot": few_shot, "freeze_depth": freeze_depth, "export": export, "quantization": quantization, "precision": precision,
          "domain_adaptation": domain_adaptation, "text": text, "mobile": mobile, "mobile_speed": mobile_speed,
          "mobile_vnni": lambda: mobile("mobile_vnni"), "mobile_vnni_speed": lambda: mobile_speed("mobile_vnni"),
          "mobile_default": lambda: mobile("mobile_default"), "mobile_default_speed": lambda: mobile_speed("mobile_default"),
          "mobile_sequential": lambda: mobile("mobile_sequential"),
          "mobile_sequential_speed": lambda: mobile_speed("mobile_sequential"),
          "mobile_first_block": lambda: mobile("mobile_first_block"),
          "mobile_first_block_speed": lambda: mobile_speed("mobile_first_block",
                                                            "normalisation, stem stage and first downsampling block"),
          "mobile_head": lambda: mobile("mobile_head"),
          "mobile_head_speed": lambda: mobile_speed("mobile_head", "normalisation, stem stage, first downsampling block and head"),
          "mobile_select": lambda: mobile("mobile_select"),
          "mobile_select_speed": lambda: mobile_speed("mobile_select", int8=SELECT_FIRST),
          "mobile_select_rate": lambda: mobile("mobile_select_rate"),
          "mobile_select_rate_speed": lambda: mobile_speed("mobile_select_rate", int8=SELECT_FIRST),
          "mobile_ties": lambda: mobile("mobile_ties"),
          "mobile_ties_speed": lambda: mobile_speed("mobile_ties", int8=SELECT_FIRST),
          "mobile_ties_changes": lambda: input_changes("mobile_ties"),
          "int8_noise": int8_noise,
          "int8_noise_stem": lambda: int8_noise(result="int8_noise_stem"), "int8_distill": int8_distill,
          "int8_rounding": lambda: int8_distill("int8_rounding"), "int8_draws": int8_draws,
          "int8_draws_first_block": lambda: int8_draws("int8_draws_first_block"),
          "int8_draws_head": lambda: int8_draws("int8_draws_head"),
          "int8_draws_head_2": lambda: int8_draws("int8_draws_head_2"), "int8_latency": int8_latency,
          "int8_latency_blocks": lambda: int8_latency("int8_latency_blocks"),
          "int8_latency_blocks_vnni": lambda: int8_latency("int8_latency_blocks_vnni"),
          "int8_select": lambda: int8_draws("int8_select"),
          "int8_select_choices": lambda: int8_selection("int8_select"),
          "int8_select_shifted": lambda: int8_draws("int8_select_shifted"),
          "int8_select_shifted_choices": lambda: int8_selection("int8_select_shifted"),
          "int8_unseen": lambda: int8_unseen({"int8_unseen_demo": "demo, plain two-phase",
                                              "int8_unseen_shifted": "shifted sign digits, default recipe",
                                              "int8_unseen_default": "demo, default recipe"}),
          "int8_layers": int8_layers, "int8_layer_gains": int8_layer_gains, "int8_bytes": int8_bytes,
          "audio": audio, "scale": scale, "recipes": recipes,
          "recipes_50": lambda: recipes("recipes_50"), "recipes_lite1": lambda: recipes("recipes_lite1"),
          "recipe_selection": recipe_selection}

if __name__ == "__main__":
    for name, make in TABLES.items():
        print(f"## {name}\n\n{make()}\n")

"""`kerastl` command line: the same functions as the Python API."""
from __future__ import annotations

import argparse
import json
import sys


def _list(args) -> int:
    from kerastl.zoo import get, list_backbones

    names = list_backbones(args.pattern, source=args.source)
    if args.markdown:
        print(zoo_table(names))
    else:
        print("\n".join(names))
    return 0


def zoo_table(names: list[str]) -> str:
    """Markdown table of zoo entries, generated from the registry."""
    from kerastl.zoo import aliases, get

    by_target: dict[str, list[str]] = {}
    for alias, target in aliases().items():
        by_target.setdefault(target, []).append(alias)
    rows = ["| name | aliases | source | input | preprocessing | weights |", "|---|---|---|---|---|---|"]
    for name in names:
        spec = get(name)
        pre = "in network" if spec.preprocessing is None else (
            "caffe (BGR, mean)" if spec.preprocessing.reverse_channels else
            "[-1, 1]" if spec.preprocessing.scale == 1 / 127.5 else "ImageNet mean/std")
        rows.append(f"| `{spec.name}` | {', '.join(f'`{a}`' for a in by_target.get(spec.name, []))} | "
                    f"{spec.source} | {spec.input_size} | {pre} | {', '.join(spec.weights)} |")
    return "\n".join(rows)


def _info(args) -> int:
    import kerastl

    print(json.dumps(kerastl.info(args.name), indent=2))
    return 0


def _demo(args) -> int:
    from kerastl import demo

    metrics = demo.run(args.out, head_epochs=args.head_epochs, fine_tune_epochs=args.fine_tune_epochs)
    return 0 if metrics["val_accuracy"] > 0 else 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kerastl", description="Transfer learning with Keras 3.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("list", help="list zoo backbones")
    s.add_argument("pattern", nargs="?", default="*", help="shell-style pattern, e.g. 'efficientnet*'")
    s.add_argument("--source", choices=["keras.applications", "keras_hub", "kerastl"])
    s.add_argument("--markdown", action="store_true", help="print a Markdown table")
    s.set_defaults(func=_list)
    s = sub.add_parser("info", help="show what the zoo knows about a backbone")
    s.add_argument("name")
    s.set_defaults(func=_info)
    s = sub.add_parser("demo", help="offline demo: Lite0 learns sign-language digits")
    s.add_argument("--out", default="runs/demo")
    s.add_argument("--head-epochs", type=int, default=100)
    s.add_argument("--fine-tune-epochs", type=int, default=4)
    s.set_defaults(func=_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    from kerastl.errors import KerastlError

    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except KerastlError as error:
        print(f"kerastl: error: {error}", file=sys.stderr)
        return 2

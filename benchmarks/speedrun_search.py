"""Choose speedrun recipes on a validation split: candidate recipes scored on held-out training images.

Each candidate is a recipe of ``trainlab.speedrun.RECIPES`` with some fields changed;
it trains on the training set less ``--validation`` images (held out with a fixed seed)
and is scored on those, never on the test set. Prints validation accuracy and wall time
per candidate and seed, with the load average, and appends every result to ``--out``.

    python benchmarks/speedrun_search.py mnist-99.0 "stem=16,stages=((32,),),epochs=1.0" "epochs=0.8"
    python benchmarks/speedrun_search.py fashion-93.0 "" --seeds 2      # the recipe as it is
"""

from __future__ import annotations

import argparse
import ast
import json
import os
from pathlib import Path

from trainlab.fileio import atomic_write_text
from trainlab.process import blas_description, machine_speed
from trainlab.speedrun import RECIPES, machine, run_recipe


def parse_changes(text: str) -> dict:
    """``"stem=16,stages=((32,),),epochs=1.0"`` -> dict (values as Python literals, else strings)."""
    out, depth, key, start = {}, 0, None, 0
    parts = []
    for i, ch in enumerate(text + ","):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    for part in filter(None, (p.strip() for p in parts)):
        key, _, value = part.partition("=")
        try:
            out[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            out[key.strip()] = value.strip()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", choices=sorted(r.name for r in RECIPES.values()))
    parser.add_argument("candidates", nargs="+", help='changes to the recipe, e.g. "epochs=2,lr=0.003" ("": none)')
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run from this one (default: 0)")
    parser.add_argument("--validation", type=int, default=5000, help="training images held out (default: 5000)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/speedrun_search.json"))
    args = parser.parse_args()
    base = next(r for r in RECIPES.values() if r.name == args.recipe)
    results = json.loads(args.out.read_text()) if args.out.exists() else []
    print(f"machine: {machine()}")
    for text in args.candidates:
        changes = parse_changes(text)
        recipe = base.replace(**changes)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            r = run_recipe(recipe, seed, validation=args.validation)
            print(f"{args.recipe} [{text or 'as is'}] seed {seed}: val {r['val_acc']:.4f} in {r['seconds']:.1f} s "
                  f"({r['epochs']:.2f} epochs, {r['parameters']:,} params, load {r['load_average'][0]:.1f}-"
                  f"{r['load_average'][1]:.1f})", flush=True)
            results.append({"base": args.recipe, "changes": text, "recipe": recipe.to_dict(), **r,
                            "load_average_5min": os.getloadavg()[1], "blas": blas_description(),
                            "speed": machine_speed()})
            args.out.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(args.out, json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

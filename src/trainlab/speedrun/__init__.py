"""The speedrun: the chapter's techniques combined, to a target test accuracy as fast as the CPU allows.

``run_speedrun("mnist", target=0.99, seeds=5)`` runs a fixed :class:`Recipe`
and returns its record (wall time, epochs, test accuracy over seeds, the
machine); ``run_ablation`` runs the recipe with one technique removed at a
time within the recipe's time budget. See ``docs/speedrun.md``.
"""

from trainlab.speedrun.recipes import (
    RECIPES, Recipe, ablation_variants, build_model, learning_rate, make_augmentation, make_optimizer, recipe_for,
)
from trainlab.speedrun.run import (
    format_ablation, format_speedrun, load_data, machine, predict, run_ablation, run_recipe, run_speedrun,
)

__all__ = ["RECIPES", "Recipe", "ablation_variants", "build_model", "format_ablation", "format_speedrun",
           "learning_rate", "load_data", "machine", "make_augmentation", "make_optimizer", "predict",
           "recipe_for", "run_ablation", "run_recipe", "run_speedrun"]

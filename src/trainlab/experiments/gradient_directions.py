"""Where the gradient points on 2-D bowls, and gradient descent from many starting points.

1. On a grid over [-10, 10]^2 (the origin left out) the angle between the
   descent direction -grad f and the direction to the minimum is measured
   on the isotropic bowl f = x^2 + y^2 and on the book's anisotropic valley
   f = x^2/20 + y^2 (:mod:`trainlab.functions2d`). On the bowl the two
   coincide everywhere; on the valley they coincide only on the two axes,
   and elsewhere -grad points mostly along y, across the valley.
2. Plain gradient descent (lr 0.1, 2000 steps) runs from ``n_starts``
   points drawn uniformly in [-4, 4]^2 with the seed, on the two convex
   bowls and, for contrast, on the non-convex double well
   f = x^4/4 - x^2 + 0.3x + y^2. On a convex function every start must end
   at the minimum; on the double well the end depends on the start (some
   starts end in the local minimum near x = 1.33 instead of the global one
   near x = -1.48).

Reference: Saito, *Deep Learning from Scratch*, sec. 6.1.3-6.1.4 (the gradient
of the valley does not point at the minimum, figure 6-2); seed 002 and seed
003 (isotropic and anisotropic functions, convexity).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlab.experiments.base import BookValue, Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import check_above_zero, settings
from trainlab.functions2d import bowl_grad, double_well_grad, valley_grad
from trainlab.plots.gradient_directions import plot_gradient_directions
from trainlab.validation import check_int, check_positive, check_real

NAME = "gradient-directions"
OWNER = f"experiment {NAME}"

#: The claims ``check`` decides: key -> source (seed statements of the ledger, book sections, papers).
CLAIMS = ClaimTable(NAME, {
    "isotropic-points-at-minimum": "seed 002 (S002-02); book 6.1.3",
    "anisotropic-mostly-not": "seed 002 (S002-02); book 6.1.3, figure 6-2",
    "convex-any-start": "seed 003 (S003-02)",
})

#: name -> (gradient, minimum, convex); the double well's minima are the roots of x^3 - 2x + 0.3.
FUNCTIONS = {
    "bowl": (bowl_grad, (0.0, 0.0), True),
    "valley": (valley_grad, (0.0, 0.0), True),
    "double well": (double_well_grad, None, False),
}
DOUBLE_WELL_MINIMA = tuple(float(r) for r in sorted(np.roots([1.0, 0.0, -2.0, 0.3]).real) if r ** 2 > 2 / 3)


@dataclass(frozen=True)
class Config:
    #: Half-width of the square grid on which the directions are measured, and its points per side.
    extent: float = 10.0
    grid: int = 41
    #: "Points at the minimum": the angle between -grad and the direction to the minimum below this (degrees).
    angle_tolerance: float = 5.0
    #: "Mostly does not": fewer than this fraction of the valley's grid points within the tolerance.
    mostly: float = 0.5
    n_starts: int = 200
    start_box: float = 4.0
    lr: float = 0.1
    iterations: int = 2000
    #: "Reaches the optimum": ends within this distance of the minimum.
    reach_tolerance: float = 1e-6

    def __post_init__(self):
        check_above_zero(OWNER, self, "extent", "lr", "reach_tolerance", "start_box")
        check_int(OWNER, "grid", self.grid, low=3)
        check_positive(OWNER, **settings(self, "n_starts", "iterations"))
        check_real(OWNER, "angle_tolerance", self.angle_tolerance, low=0.0, low_open=True, high=90.0)
        check_real(OWNER, "mostly", self.mostly, low=0.0, low_open=True, high=1.0)


def angles(grad, minimum, points: np.ndarray) -> np.ndarray:
    """Degrees between -grad f and the direction to ``minimum`` at each point of ``points`` (2, n)."""
    g = -np.asarray(grad(points), np.float64)                               # (2, n)
    to_min = np.asarray(minimum, np.float64)[:, None] - points
    cos = (g * to_min).sum(axis=0) / (np.linalg.norm(g, axis=0) * np.linalg.norm(to_min, axis=0))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def descend(grad, starts: np.ndarray, lr: float, iterations: int, keep: int = 0):
    """Gradient descent from every start at once: starts (2, n) -> ends (2, n), and the first ``keep`` paths."""
    p = starts.astype(np.float64).copy()
    paths = [p[:, :keep].copy()]
    for _ in range(iterations):
        p = p - lr * grad(p)
        if keep:
            paths.append(p[:, :keep].copy())
    return p, np.stack(paths, axis=-1)                                      # (2, keep, iterations + 1)


def run(config: Config, seed: int = 0) -> dict:
    side = np.linspace(-config.extent, config.extent, config.grid)
    X, Y = np.meshgrid(side, side)
    points = np.stack([X.ravel(), Y.ravel()])
    points = points[:, np.hypot(*points) > 0]  # at the minimum itself its direction is undefined
    out = {"grid": {"extent": config.extent, "n": int(points.shape[1])}, "directions": {}, "descent": {}}
    for name in ("bowl", "valley"):
        grad, minimum, _ = FUNCTIONS[name]
        a = angles(grad, minimum, points)
        out["directions"][name] = {
            "max_angle": float(a.max()), "median_angle": float(np.median(a)), "mean_angle": float(a.mean()),
            "within_tolerance": float((a <= config.angle_tolerance).mean()),
            "histogram": np.histogram(a, bins=18, range=(0.0, 90.0))[0].tolist()}
    rng = np.random.default_rng(seed)
    starts = rng.uniform(-config.start_box, config.start_box, size=(2, config.n_starts))
    out["starts"] = starts[:, :20].tolist()
    for name, (grad, minimum, convex) in FUNCTIONS.items():
        with np.errstate(over="ignore", invalid="ignore"):
            ends, paths = descend(grad, starts, config.lr, config.iterations, keep=20)
        row = {"convex": convex, "paths": paths[:, :, ::max(1, config.iterations // 200)].round(4).tolist(),
               "finite": bool(np.isfinite(ends).all())}
        if convex:
            dist = np.hypot(*(ends - np.asarray(minimum)[:, None]))
            row.update(worst_distance=float(np.nan_to_num(dist, nan=np.inf).max()),
                       reached=float((dist <= config.reach_tolerance).mean()))
        else:
            x_end = ends[0]
            near = np.abs(x_end[:, None] - np.asarray(DOUBLE_WELL_MINIMA)[None]).argmin(axis=1)
            row.update(minima=list(DOUBLE_WELL_MINIMA),
                       global_fraction=float((near == 0).mean()), local_fraction=float((near == 1).mean()))
        out["descent"][name] = row
    return out


def check(metrics: dict, config: Config) -> list[Claim]:
    iso, aniso = metrics["directions"]["bowl"], metrics["directions"]["valley"]
    n, tol = metrics["grid"]["n"], config.angle_tolerance
    claims = [CLAIMS.claim(
        "isotropic-points-at-minimum",
        f"On the isotropic bowl x\u00b2 + y\u00b2 the descent direction -grad points at the minimum everywhere: "
        f"at every grid point the angle to the direction of the minimum is at most {tol:g}\u00b0",
        iso["max_angle"] <= tol,
        f"largest angle over {n} grid points in [-{config.extent:g}, {config.extent:g}]\u00b2: "
        f"{iso['max_angle']:.2g}\u00b0 (median {iso['median_angle']:.2g}\u00b0)",
        values={"bowl: largest angle (degrees)": iso["max_angle"], "tolerance (degrees)": tol})]
    claims.append(CLAIMS.claim(
        "anisotropic-mostly-not",
        f"On the anisotropic valley x\u00b2/20 + y\u00b2 it mostly does not: fewer than {config.mostly:.0%} of the "
        f"grid points have -grad within {tol:g}\u00b0 of the direction to the minimum",
        aniso["within_tolerance"] < config.mostly,
        f"within {tol:g}\u00b0: {aniso['within_tolerance']:.1%} of {n} grid points (bowl: "
        f"{iso['within_tolerance']:.0%}); angle median {aniso['median_angle']:.1f}\u00b0, mean "
        f"{aniso['mean_angle']:.1f}\u00b0, largest {aniso['max_angle']:.1f}\u00b0",
        values={"valley: fraction within tolerance": aniso["within_tolerance"],
                "valley: median angle (degrees)": aniso["median_angle"], "threshold": config.mostly}))
    d = metrics["descent"]
    convex = {k: r for k, r in d.items() if r["convex"]}
    well = d["double well"]
    claims.append(CLAIMS.claim(
        "convex-any-start",
        f"On a convex function gradient descent reaches the optimum from any starting point: from all "
        f"{config.n_starts} random starts in [-{config.start_box:g}, {config.start_box:g}]\u00b2 (lr {config.lr:g}, "
        f"{config.iterations} steps) it ends within {config.reach_tolerance:g} of the minimum on the bowl and on "
        f"the valley",
        all(r["reached"] == 1.0 and r["worst_distance"] <= config.reach_tolerance for r in convex.values()),
        "; ".join(f"{k}: {r['reached']:.0%} reach it, farthest end {r['worst_distance']:.1e} from it"
                  for k, r in convex.items())
        + f"; the non-convex double well from the same starts: {well['global_fraction']:.0%} end in the global "
          f"minimum (x = {well['minima'][0]:.2f}), {well['local_fraction']:.0%} in the local one "
          f"(x = {well['minima'][1]:.2f})",
        values={**{f"{k}: fraction of starts reaching the minimum": r["reached"] for k, r in convex.items()},
                **{f"{k}: farthest end from the minimum": r["worst_distance"] for k, r in convex.items()},
                "double well: fraction ending in the global minimum": well["global_fraction"]}))
    return claims


def book(metrics: dict, config: Config) -> list[BookValue]:
    return [BookValue("valley: does the gradient point at the minimum?", "mostly not (figure 6-2)",
                      f"{metrics['directions']['valley']['within_tolerance']:.1%} of the grid within "
                      f"{config.angle_tolerance:g}\u00b0", "book 6.1.3 shows the gradient field, not a number")]


register(ExperimentSpec(
    name=NAME,
    title="Where the gradient points: isotropic and anisotropic bowls, and descent from many starts",
    summary="The angle between -grad and the direction to the minimum over a grid on x\u00b2 + y\u00b2 and "
            "x\u00b2/20 + y\u00b2, and gradient descent from 200 random starts on both and on a double well.",
    config_cls=Config, run=run, check=check, plot=plot_gradient_directions, book=book,
    quick={"grid": 21, "n_starts": 50}, claims=CLAIMS, seeds=5,
))

"""Pre-activation against post-activation residual blocks: the gradient that reaches the bottom, and training, by depth.

Two forms of the same small ResNet (one stage of ``width`` channels after a
4x4 stem convolution, global average pooling, a linear classifier):

- post-activation, the original form: stem Conv-BN-ReLU, then blocks
  ReLU(x + BN(Conv(ReLU(BN(Conv(x)))))), so the shortcut's signal passes a
  ReLU in every block (:class:`trainlab.layers.PostActResidualBlock`);
- pre-activation: blocks x + Conv(ReLU(BN(Conv(ReLU(BN(x)))))), the
  shortcut untouched from block to block, and BN-ReLU before the pool
  (:class:`trainlab.layers.ResidualBlock`).

Images are averaged over ``pool`` x ``pool`` squares first (28x28 -> 14x14
by default, 11x11 feature maps), which keeps deep stacks affordable on a CPU.

Measured, with each form built from the same seed:

- at the initial weights, over ``grad_batches`` batches and for each depth
  of ``grad_depths`` blocks: the gradient reaching the bottom of the
  residual stack relative to the gradient arriving at its top,
  R = ||dL/d(input of the first block)|| / ||dL/d(output of the last block)||
  (a ratio inside one network, so the two forms' different output scales
  cancel). The "gradient highway" of the seed note is the identity path
  that carries the top gradient down unchanged; R says how much of the
  gradient the lowest layers receive. The stem convolution's weight gradient
  norm is recorded as well: it also scales with each form's loss and logits;
- training: each depth of ``train_depths`` blocks is trained ``steps``
  steps with the same batches (momentum SGD at the CIFAR recipe's lr 0.1
  and momentum 0.9, He et al., 2016), and the mean batch loss of the last
  quarter of the steps is compared.

Budget: a few hundred blocks' worth of forward and backward passes in all;
the papers' gap shows at 110 to 1001 layers and 64,000 steps, far beyond it.

Reference: He et al., 2016, "Deep Residual Learning for Image Recognition" (post-activation);
He et al., 2016, "Identity Mappings in Deep Residual Networks" (pre-activation, sec. 3-4, fig. 4);
seed 003.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trainlab.errors import ConfigError
from trainlab.experiments.base import Claim, ClaimTable, ExperimentSpec, register
from trainlab.experiments.common import check_above_zero, check_dataset, check_sizes, load_subset, settings, split_seed
from trainlab.layers import CrossEntropyLoss, PostActResidualBlock, ResidualBlock
from trainlab.models.cnn import ResNet
from trainlab.optim import create_optimizer
from trainlab.plots.resnet_preactivation import plot_resnet_preactivation
from trainlab.training import Trainer
from trainlab.validation import check_int, check_positive, check_real

NAME = "resnet-preactivation"
OWNER = f"experiment {NAME}"

CLAIMS = ClaimTable(NAME, {
    "more-gradient-reaches-bottom": "seed 003 (S003-28); He et al., 2016 (identity mappings), sec. 3",
    "highway-gap-grows-with-depth": "seed 003 (S003-28)",
    "deep-trains-better": "seed 003 (S003-28); He et al., 2016 (identity mappings), sec. 4",
    "training-gap-grows-with-depth": "seed 003 (S003-28)",
})

#: (key, label, preactivation) of the two forms.
FORMS = (("pre", "pre-activation (BN-ReLU-Conv)", True), ("post", "post-activation (Conv-BN-ReLU)", False))


@dataclass(frozen=True)
class Config:
    dataset: str = "mnist"
    n_train: int = 2000
    #: Images are averaged over pool x pool squares (1: the full 28x28).
    pool: int = 2
    width: int = 8
    #: Depths (residual blocks) whose gradients are measured at initialisation.
    grad_depths: tuple[int, ...] = (2, 8, 16, 32)
    grad_batches: int = 4
    grad_batch_size: int = 32
    #: Depths trained, and how.
    train_depths: tuple[int, ...] = (2, 8, 16)
    steps: int = 150
    batch_size: int = 16
    lr: float = 0.1
    momentum: float = 0.9

    def __post_init__(self):
        check_dataset(OWNER, self.dataset)
        check_positive(OWNER, **settings(self, "n_train", "width", "grad_batches", "grad_batch_size", "batch_size"))
        if self.pool not in (1, 2, 4):
            raise ConfigError(f"{OWNER}: pool must divide 28 into at least 7 pixels (1, 2 or 4), got {self.pool!r}")
        check_int(OWNER, "steps", self.steps, low=4)
        for name in ("grad_depths", "train_depths"):
            depths = getattr(self, name)
            check_sizes(OWNER, name, depths)
            if len(depths) < 2 or list(depths) != sorted(set(depths)):
                raise ConfigError(f"{OWNER}: {name} must list at least two depths in increasing order, "
                                  f"got {depths!r}")
        check_above_zero(OWNER, self, "lr")
        check_real(OWNER, "momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        if self.grad_batches * self.grad_batch_size > self.n_train:
            raise ConfigError(f"{OWNER}: grad_batches * grad_batch_size = "
                              f"{self.grad_batches * self.grad_batch_size} exceeds n_train={self.n_train}")


def pooled(x, pool: int):
    """(N, 1, 28, 28) images averaged over pool x pool squares: (N, 1, 28 / pool, 28 / pool)."""
    if pool == 1:
        return x
    N, C, H, W = x.shape
    return x.reshape(N, C, H // pool, pool, W // pool, pool).mean(axis=(3, 5))


def build(config: Config, depth: int, preactivation: bool, seed: int, input_shape) -> ResNet:
    return ResNet(input_shape=input_shape, widths=(config.width,), blocks_per_stage=depth,
                  preactivation=preactivation, seed=seed)


def gradient_reach(model: ResNet, x, t) -> dict:
    """Gradient norms of one batch: at the bottom and top of the residual stack, and at the stem's weights."""
    layers = model.layers
    blocks = [i for i, layer in enumerate(layers) if isinstance(layer, (ResidualBlock, PostActResidualBlock))]
    first, after_last = layers[blocks[0]], layers[blocks[-1] + 1]
    seen = {}

    def hook(path, layer, dx):
        if layer is first:
            seen["bottom"] = float(np.linalg.norm(dx))
        elif layer is after_last:
            seen["top"] = float(np.linalg.norm(dx))  # the gradient at the last block's output

    loss = CrossEntropyLoss()
    model.backward_hooks.append(hook)
    try:
        value = loss.forward(model.forward(x, train=True), t)
        model.backward(loss.backward())
    finally:
        model.backward_hooks.remove(hook)
    return {"ratio": seen["bottom"] / seen["top"], "bottom": seen["bottom"], "top": seen["top"],
            "stem": float(np.linalg.norm(layers[0].weight.grad)), "loss": float(value)}


def run(config: Config, seed: int = 0) -> dict:
    data = load_subset(config.dataset, config.n_train, 0, seed=seed, flatten=False)
    x, t = pooled(data.x_train, config.pool), data.t_train
    init_seed, batch_seed = split_seed(seed)
    shape = x.shape[1:]
    bs = config.grad_batch_size
    grads = {}
    for key, _, pre in FORMS:
        grads[key] = []
        for depth in config.grad_depths:
            model = build(config, depth, pre, init_seed, shape)
            per_batch = [gradient_reach(model, x[b * bs:(b + 1) * bs], t[b * bs:(b + 1) * bs])
                         for b in range(config.grad_batches)]
            grads[key].append({name: float(np.mean([p[name] for p in per_batch])) for name in per_batch[0]})
    training = {}
    for key, _, pre in FORMS:
        training[key] = []
        for depth in config.train_depths:
            model = build(config, depth, pre, init_seed, shape)
            optimizer = create_optimizer("momentum", model.named_parameters(), lr=config.lr,
                                         momentum=config.momentum)
            history = Trainer(model, optimizer, batch_size=config.batch_size, iterations=config.steps,
                              seed=batch_seed, eval_train=False, progress=False, on_nonfinite="stop").fit(x, t)
            loss = np.asarray(history.loss, np.float64)
            diverged = history.diverged_at is not None
            tail = loss[-max(1, config.steps // 4):]
            # A run that diverged has no final loss (None): it counts as infinitely high.
            training[key].append({"loss": loss.tolist(), "diverged": diverged,
                                  "final_loss": None if diverged else float(tail.mean()),
                                  "parameters": model.num_parameters()})
    return {"dataset": data.name, "n_train": int(len(x)), "image_size": int(shape[-1]),
            "grad_depths": list(config.grad_depths), "train_depths": list(config.train_depths),
            "gradients": grads, "training": training}


def _finite(values: dict) -> dict:
    """The finite ones of ``values`` (a diverged run's loss is said in the evidence, not averaged over seeds)."""
    return {k: v for k, v in values.items() if math.isfinite(v)}


def check(metrics: dict, config: Config) -> list[Claim]:
    depths, tdepths = metrics["grad_depths"], metrics["train_depths"]
    g = metrics["gradients"]
    r_pre, r_post = [d["ratio"] for d in g["pre"]], [d["ratio"] for d in g["post"]]
    gap = [a / b for a, b in zip(r_pre, r_post)]
    tr = metrics["training"]
    loss_pre, loss_post = ([math.inf if d["final_loss"] is None else d["final_loss"] for d in tr[k]]
                           for k in ("pre", "post"))
    # Both diverged: no difference to speak of.
    tgap = [b - a if math.isfinite(a) or math.isfinite(b) else math.nan for a, b in zip(loss_pre, loss_post)]
    by_depth = ", ".join(f"{d} blocks {a:.2f} vs {b:.2f}" for d, a, b in zip(depths, r_pre, r_post))
    stems = ", ".join(f"{d} blocks {a['stem']:.3f} vs {b['stem']:.3f}" for d, a, b in zip(depths, g["pre"], g["post"]))
    losses = ", ".join(f"{d} blocks {a:.3f} vs {b:.3f}" for d, a, b in zip(tdepths, loss_pre, loss_post))
    starts = ", ".join(f"{d} blocks {a['loss'][0]:.2f} vs {b['loss'][0]:.2f}"
                       for d, a, b in zip(tdepths, tr["pre"], tr["post"]))
    where = (f"width {config.width}, {metrics['image_size']}x{metrics['image_size']} {metrics['dataset']} images")
    recipe = (f"{config.steps} steps of momentum SGD (lr {config.lr:g}, momentum {config.momentum:g}), batch "
              f"{config.batch_size}, same batches; mean batch loss of the last quarter, pre vs post: {losses} "
              f"(first step: {starts}; nothing normalises the post-activation stack's sum before the classifier)"
              + ("; diverged: " + ", ".join(f"{k} {d} blocks" for k in tr for d, r in zip(tdepths, tr[k])
                                              if r["diverged"]) if any(r["diverged"] for k in tr for r in tr[k])
                 else ""))
    return [
        CLAIMS.claim("more-gradient-reaches-bottom",
                     "At every depth more of the gradient arriving at the top of the residual stack reaches its "
                     "bottom with pre-activation blocks than with post-activation ones",
                     all(a > b for a, b in zip(r_pre, r_post)),
                     f"at the initial weights, {where}, mean of {config.grad_batches} batches of "
                     f"{config.grad_batch_size}: ||gradient at the first block's input|| / ||gradient at the last "
                     f"block's output||, pre vs post: {by_depth}; for comparison the stem convolution's weight "
                     f"gradient norm, which also carries each form's loss scale: {stems}",
                     values={f"ratio pre, {depths[0]} blocks": r_pre[0], f"ratio post, {depths[0]} blocks": r_post[0],
                             f"ratio pre, {depths[-1]} blocks": r_pre[-1],
                             f"ratio post, {depths[-1]} blocks": r_post[-1]}),
        CLAIMS.claim("highway-gap-grows-with-depth",
                     f"The advantage grows with depth: (pre ratio / post ratio) at {depths[-1]} blocks exceeds that "
                     f"at {depths[0]} blocks",
                     gap[-1] > gap[0],
                     "pre ratio / post ratio by depth: "
                     + ", ".join(f"{d} blocks {v:.2f}" for d, v in zip(depths, gap)),
                     values={f"advantage at {depths[0]} blocks": gap[0], f"advantage at {depths[-1]} blocks": gap[-1]}),
        CLAIMS.claim("deep-trains-better",
                     f"At {tdepths[-1]} blocks the pre-activation ResNet reaches a lower training loss than the "
                     f"post-activation one",
                     loss_pre[-1] < loss_post[-1],
                     f"{where}; {recipe}",
                     values=_finite({f"final loss pre, {tdepths[-1]} blocks": loss_pre[-1],
                                     f"final loss post, {tdepths[-1]} blocks": loss_post[-1]})),
        CLAIMS.claim("training-gap-grows-with-depth",
                     f"Post's excess training loss over pre is larger at {tdepths[-1]} blocks than at "
                     f"{tdepths[0]} blocks",
                     tgap[-1] > tgap[0],
                     "post minus pre final loss by depth: " + ", ".join(f"{d} blocks {v:+.3f}"
                                                                       for d, v in zip(tdepths, tgap)),
                     values=_finite({f"post - pre at {tdepths[0]} blocks": tgap[0],
                                     f"post - pre at {tdepths[-1]} blocks": tgap[-1]})),
    ]


register(ExperimentSpec(
    name=NAME,
    title="Pre-activation against post-activation ResNets: the gradient that reaches the bottom, and training",
    summary="ResNets of 2 to 32 residual blocks in the original (Conv-BN-ReLU, ReLU after the addition) and the "
            "pre-activation (BN-ReLU-Conv) form: the share of the top gradient reaching the first block at "
            "initialisation, and the training loss after a short run, by depth.",
    config_cls=Config, run=run, check=check, plot=plot_resnet_preactivation,
    quick={"n_train": 256, "pool": 4, "grad_depths": (1, 4), "grad_batches": 2, "grad_batch_size": 16,
           "train_depths": (1, 4), "steps": 8},
    claims=CLAIMS,
    seeds=3,  # what make run gives it (see docs/experiments.md)
))

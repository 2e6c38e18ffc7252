"""Mini-batch training: the loop, evaluation, history, callbacks and the NaN guard.

``Trainer(model, optimizer).fit(x, t)`` runs the book's training loop
(ch. 4.5 and ``common/trainer.py``): shuffle with a seed, forward, loss,
backward, update; evaluate at the end of every epoch; keep the loss of every
iteration and the metrics of every epoch. Callbacks see each step, so
experiments can record activations and gradient norms without their own loop.
"""

from __future__ import annotations

import copy
import math
import numbers
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np

from trainlab import regularization
from trainlab.errors import ConfigError, NonFiniteError
from trainlab.layers.base import Layer, Sequential
from trainlab.layers.losses import CrossEntropyLoss, Loss
from trainlab.validation import check_bool, check_int, check_real, reject_moved


@dataclass
class History:
    """What a run measured.

    ``iterations`` and ``loss`` hold one entry per update (the training batch
    loss, penalty included). ``epochs`` holds one dict per evaluation with
    ``epoch``, ``iteration`` and ``<set>_loss`` / ``<set>_acc`` for each
    evaluated set ('train', 'val', 'test', ...).
    """

    iterations: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    epochs: list[dict[str, float]] = field(default_factory=list)
    #: Set when a ``Trainer(on_nonfinite="stop")`` run ended early: the step whose loss was not
    #: finite (no update was made from it) and the diagnosis the error would have carried.
    diverged_at: int | None = None
    divergence: str | None = None

    def series(self, key: str) -> list[float]:
        """One metric over the evaluations, e.g. ``history.series('test_acc')``."""
        return [record[key] for record in self.epochs if key in record]

    def last(self, key: str) -> float:
        values = self.series(key)
        if not values:
            raise KeyError(f"history has no {key!r}; recorded: {sorted(self.epochs[-1]) if self.epochs else []}")
        return values[-1]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Callback:
    """Hooks into :meth:`Trainer.fit`; override the ones you need."""

    def on_train_begin(self, trainer: "Trainer") -> None: ...

    def on_backward(self, trainer: "Trainer", step: int) -> None:
        """Gradients are in the parameters, the update has not happened yet."""

    def on_step_end(self, trainer: "Trainer", step: int, loss: float) -> None: ...

    def on_epoch_end(self, trainer: "Trainer", epoch: int, record: dict[str, float]) -> None: ...

    def on_train_end(self, trainer: "Trainer") -> None: ...


class GradientNormRecorder(Callback):
    """Record the L2 norm of every parameter's gradient every ``every`` steps.

    ``norms[name]`` is a list over recorded steps; ``steps`` lists those steps.
    """

    def __init__(self, every: int = 1) -> None:
        self.every = check_int("GradientNormRecorder", "every", every, low=1)
        self.steps: list[int] = []
        self.norms: dict[str, list[float]] = {}

    def on_backward(self, trainer, step):
        if step % self.every:
            return
        self.steps.append(step)
        for name, p in trainer.model.named_parameters():
            if p.grad is not None:
                self.norms.setdefault(name, []).append(float(np.sqrt((p.grad * p.grad).sum())))


class ActivationRecorder(Callback):
    """Keep each layer's output of the training batch at the given steps (default: the first).

    Needs a :class:`Sequential` model (its forward hooks). ``activations[step][path]`` is a copy.
    """

    def __init__(self, steps: Iterable[int] = (0,)) -> None:
        self.wanted = set(int(s) for s in steps)
        self.activations: dict[int, dict[str, np.ndarray]] = {}
        self._step = 0

    def on_train_begin(self, trainer):
        if not isinstance(trainer.model, Sequential):
            raise TypeError("ActivationRecorder needs a Sequential model")
        trainer.model.forward_hooks.append(self._hook)

    def _hook(self, path, layer, out):
        if self._step in self.wanted:
            self.activations.setdefault(self._step, {})[path] = np.array(out, copy=True)

    def on_step_end(self, trainer, step, loss):
        self._step = step + 1

    def on_train_end(self, trainer):
        trainer.model.forward_hooks.remove(self._hook)


def first_leaf(model: Layer) -> Layer:
    """The layer that sees a Sequential model's input first (the model itself if it is not a container)."""
    layer = model
    while isinstance(layer, Sequential) and len(layer):
        layer = layer[0]
    return layer


def model_dtype(model: Layer) -> np.dtype:
    """The dtype ``model`` computes in: that of its first parameter (float32 without parameters)."""
    return np.dtype(next((p.data.dtype for p in model.parameters()), np.float32))


def output_width(model: Layer, x) -> int | None:
    """Scores per sample: the model's ``output_size`` or ``n_classes``, else one eval-mode pass on ``x[:1]``."""
    for name in ("output_size", "n_classes"):
        value = getattr(model, name, None)
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
    scores = model.forward(x[:1], train=False)
    return int(scores.shape[1]) if getattr(scores, "ndim", 0) == 2 else None


def find_first_nonfinite(model: Layer, x, *, train: bool = True) -> str | None:
    """Run ``x`` through a copy of ``model`` and name the first leaf layer whose output is not finite."""
    probe = copy.deepcopy(model)
    found: list[str] = []

    def watch(layer):
        original = layer.forward

        def forward(inp, *, train):
            out = original(inp, train=train)
            if not found and not np.isfinite(out).all():
                params = [n for n, p in layer.named_parameters() if not np.isfinite(p.data).all()]
                note = f" (its parameters {', '.join(params)} are not finite)" if params else ""
                found.append(f"{layer.describe()}{note}")
            return out

        layer.forward = forward

    for layer in probe.modules():
        if not layer._children:
            watch(layer)
    with np.errstate(all="ignore"):
        try:
            probe.forward(x, train=train)
        except Exception:  # the diagnosis must not hide the original error
            pass
    return found[0] if found else None


def accuracy(model: Layer, x, t, batch_size: int = 1000) -> float:
    """Fraction of samples whose highest score is the label (class index or one-hot), in eval mode."""
    from trainlab.data.batching import as_pair

    x, t = as_pair(x, t, "accuracy", model_dtype(model))
    batch_size = check_int("accuracy", "batch_size", batch_size, low=1)
    labels = t.argmax(axis=1) if t.ndim == 2 else t
    correct = 0
    for start in range(0, x.shape[0], batch_size):
        scores = model.forward(x[start:start + batch_size], train=False)
        correct += int((scores.argmax(axis=1) == labels[start:start + batch_size]).sum())
    return correct / max(1, x.shape[0])


def evaluate(model: Layer, x, t, loss_fn: Loss | None = None, batch_size: int = 1000) -> dict[str, float]:
    """Loss and accuracy of ``model`` in eval mode over (x, t), in batches.

    Accuracy is reported when the targets are class indices or one-hot rows.
    """
    from trainlab.data.batching import as_pair

    loss_fn = CrossEntropyLoss() if loss_fn is None else loss_fn
    x, t = as_pair(x, t, "evaluate", model_dtype(model))
    batch_size = check_int("evaluate", "batch_size", batch_size, low=1)
    n = x.shape[0]
    if n == 0:
        return {}
    total_loss, correct = 0.0, 0
    classify = isinstance(loss_fn, CrossEntropyLoss)
    for start in range(0, n, batch_size):
        xb, tb = x[start:start + batch_size], t[start:start + batch_size]
        scores = model.forward(xb, train=False)
        total_loss += loss_fn.forward(scores, tb) * xb.shape[0]
        if classify:
            labels = tb.argmax(axis=1) if tb.ndim == 2 else tb
            correct += int((scores.argmax(axis=1) == labels).sum())
    out = {"loss": total_loss / n}
    if classify:
        out["acc"] = correct / n
    return out


class Trainer:
    """Train ``model`` with ``optimizer`` on mini-batches.

    Layers with an ``auxiliary_loss(t) -> float`` method (auxiliary classifier
    heads) are asked for their loss after each training forward pass; it is
    added to the total, and the head feeds its gradient back during backward.

    Parameters
    ----------
    model : Layer
        Returns scores from ``forward(x, train=True)``.
    optimizer : trainlab.optim.Optimizer
        Built over ``model.parameters()``.
    loss_fn : Loss, default CrossEntropyLoss()
    batch_size : int, default 100
    epochs, iterations : int
        Length of training; give one. With ``iterations`` the last epoch may be partial.
    seed : int, default 0
        Shuffling seed (each epoch a new permutation).
    eval_sets : mapping name -> (x, t), optional
        Evaluated at the end of every epoch (e.g. ``{'val': ..., 'test': ...}``).
    eval_train : bool or int, default True
        Also evaluate on the training set; an int evaluates the first that many samples (faster;
        0 is False).
    l2_penalty : float, default 0
        The book's weight decay ``lambda``: ``lambda/2 * sum ||W||^2`` joins the loss (and the
        recorded loss) and ``lambda * W`` each weight's gradient, for parameters with
        ``decay=True`` (see :mod:`trainlab.regularization`). The optimizer's own
        ``weight_decay`` adds the same gradient term without the loss term (with SGD the two
        give the same parameters); AdamW's is the decoupled form. ``weight_decay=`` here
        raises ConfigError saying so.
    augment : callable (x, rng) -> x, optional
        Applied to each training batch.
    callbacks : iterable of Callback
    progress : bool, default True
        A tqdm progress bar (when tqdm is installed); turn it off in scripts and tests.
    eval_batch_size : int, default 1000
    on_nonfinite : {"raise", "stop"}, default "raise"
        What a NaN or infinite loss does: raise :class:`NonFiniteError` naming the step and
        the first layer whose output was not finite, or stop training there and record it
        (``history.diverged_at`` and ``history.divergence``) so that a comparison of learning
        rates or initialisations can keep the runs that diverged. The model keeps the
        parameters of the last finite step either way (no update is made from a bad loss).
    """

    def __init__(self, model: Layer, optimizer, *, loss_fn: Loss | None = None, batch_size: int = 100,
                 epochs: int | None = None, iterations: int | None = None, seed: int = 0,
                 eval_sets: Mapping[str, tuple] | None = None, eval_train: bool | int = True,
                 l2_penalty: float = 0.0, augment=None, callbacks: Iterable[Callback] = (),
                 progress: bool = True, eval_batch_size: int = 1000, on_nonfinite: str = "raise",
                 **removed) -> None:
        reject_moved("Trainer", removed, {"weight_decay": regularization.WEIGHT_DECAY_MOVED})
        if on_nonfinite not in ("raise", "stop"):
            raise ConfigError(f"on_nonfinite must be 'raise' or 'stop', got {on_nonfinite!r}")
        if (epochs is None) == (iterations is None):
            raise ConfigError("give exactly one of epochs or iterations")
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = CrossEntropyLoss() if loss_fn is None else loss_fn
        self.batch_size = check_int("Trainer", "batch_size", batch_size, low=1)
        self.epochs = None if epochs is None else check_int("Trainer", "epochs", epochs, low=1)
        self.iterations = None if iterations is None else check_int("Trainer", "iterations", iterations, low=1)
        self.seed = seed
        self.eval_sets = dict(eval_sets or {})
        if not isinstance(eval_train, bool):
            eval_train = check_int("Trainer", "eval_train", eval_train, low=0)
        self.eval_train = eval_train
        self.l2_penalty = check_real("Trainer", "l2_penalty", l2_penalty, low=0.0)
        self.augment = augment
        self.callbacks = list(callbacks)
        self.progress = check_bool("Trainer", "progress", progress)
        self.eval_batch_size = check_int("Trainer", "eval_batch_size", eval_batch_size, low=1)
        self.on_nonfinite = on_nonfinite
        self.history = History()
        self._train_data = (None, None)
        self._aux_heads: list = []
        self.step = 0
        self.epoch = 0

    def fit(self, x, t) -> History:
        """Train on (x, t); returns the :class:`History` (also kept as ``self.history``).

        The training set and every evaluation set are converted and checked whole before the
        first step (labels against :func:`output_width`): see :func:`trainlab.data.batching.check_sets`.

        Nothing process-wide changes here: for trainlab's threads and kept
        memory, run it inside :func:`trainlab.runtime`.
        """
        return self._fit(x, t)

    def _fit(self, x, t) -> History:
        from trainlab.data.batching import BatchIterator, check_sets  # data depends on nothing here; avoid a cycle

        x, t, self.eval_sets = check_sets(x, t, self.eval_sets, dtype=model_dtype(self.model),
                                          classify=isinstance(self.loss_fn, CrossEntropyLoss),
                                          width_of=lambda xs: output_width(self.model, xs))
        self._train_data = (x, t)
        batches = BatchIterator(x, t, self.batch_size, shuffle=True, seed=self.seed,
                                augment=self.augment, dtype=x.dtype)
        per_epoch = len(batches)
        total = self.iterations if self.iterations is not None else self.epochs * per_epoch
        bar = _progress_bar(total, self.progress)
        params = self.model.parameters()
        self._aux_heads = [m for m in self.model.modules() if hasattr(m, "auxiliary_loss")]
        # Nobody reads the gradient with respect to the training images: let the first layer skip it.
        first = first_leaf(self.model)
        first_needed = first.needs_input_grad
        first.needs_input_grad = False
        for cb in self.callbacks:
            cb.on_train_begin(self)
        try:
            last_eval_step = -1
            while self.step < total:
                for xb, tb in batches:
                    try:
                        loss = self._train_step(xb, tb, params)
                    except NonFiniteError as exc:
                        if self.on_nonfinite == "raise":
                            raise
                        self.history.diverged_at, self.history.divergence = self.step, str(exc)
                        return self.history
                    if bar is not None:
                        bar.update(1)
                        if self.step % 10 == 0:
                            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
                    if self.step >= total:
                        break
                self.epoch += 1
                self._evaluate_now()
                last_eval_step = self.step
            if last_eval_step != self.step:
                self._evaluate_now()
        finally:
            first.needs_input_grad = first_needed
            if bar is not None:
                bar.close()
            for cb in self.callbacks:
                cb.on_train_end(self)
        return self.history

    def _train_step(self, xb, tb, params) -> float:
        step = self.step
        # Overflow shows up as a non-finite loss, which is reported below with the culprit;
        # NumPy's own warnings would only come first and say less.
        with np.errstate(over="ignore", invalid="ignore"):
            scores = self.model.forward(xb, train=True)
            loss = self.loss_fn.forward(scores, tb)
            for head in self._aux_heads:
                # Auxiliary classifiers (Inception): their weighted losses join the total, and
                # each head adds its own gradient into the trunk during model.backward.
                loss += head.auxiliary_loss(tb)
        if self.l2_penalty:
            loss += regularization.l2_penalty(params, self.l2_penalty)
        if not math.isfinite(loss):
            culprit = find_first_nonfinite(self.model, xb)
            where = f"the first non-finite output came from {culprit}" if culprit else \
                "every layer's output was finite, so the loss itself overflowed"
            raise NonFiniteError(
                f"loss is {loss} at step {step} (epoch {self.epoch}); {where}. "
                f"Try a smaller learning rate (now {getattr(self.optimizer, 'lr', '?')}), "
                f"gradient clipping, or BatchNorm.")
        self.model.backward(self.loss_fn.backward())
        if self.l2_penalty:
            regularization.add_l2_gradient(params, self.l2_penalty)
        for cb in self.callbacks:
            cb.on_backward(self, step)
        self.optimizer.step()
        self.history.iterations.append(step)
        self.history.loss.append(loss)
        self.step = step + 1
        for cb in self.callbacks:
            cb.on_step_end(self, step, loss)
        return loss

    def _evaluate_now(self) -> None:
        record: dict[str, float] = {"epoch": self.epoch, "iteration": self.step}
        x, t = self._train_data
        sets = dict(self.eval_sets)
        if self.eval_train and x is not None:
            n = x.shape[0] if self.eval_train is True else int(self.eval_train)
            sets = {"train": (x[:n], t[:n]), **sets}
        for name, (xe, te) in sets.items():
            for key, value in evaluate(self.model, xe, te, self.loss_fn, self.eval_batch_size).items():
                record[f"{name}_{key}"] = value
        self.history.epochs.append(record)
        for cb in self.callbacks:
            cb.on_epoch_end(self, self.epoch, record)


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="step", file=sys.stderr, leave=False, dynamic_ncols=True)

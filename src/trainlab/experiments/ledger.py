"""The ledger of the seeds' statements: every statement a measurement could decide, and what decides it.

The five seed files are study notes on chapters 6 to 8 of *Deep Learning from
Scratch* (seeds 000 to 004). Each statement they make about what a technique
does is one :class:`Statement` here, in English, with the seed it comes from
and either the experiment claims that decide it (their ids,
``"<experiment>/<key>"``, see :class:`trainlab.experiments.base.ClaimTable`) or
a reason why nothing decides it: ``"no experiment yet"``, or
``"not measurable: ..."`` for statements about popularity, history or opinion.
Definitions and formulas are not listed.

A statement is decided by all of its claims together: it passes when every
one of them passes in a run. :func:`render_markdown` writes the table of
``docs/claims.md`` and :func:`render_html` the same table as a section of the
report, each verdict taken from the run given.

``python -m trainlab.experiments.claims_doc REPORT_DIR OUT.md`` re-decides
the claims of a finished ``trainlab reproduce`` run from its ``metrics.json``
files and writes the markdown page.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: The reason of a measurable statement that no experiment decides yet.
NO_EXPERIMENT = "no experiment yet"
#: The prefix of the reason of a statement no measurement can decide.
NOT_MEASURABLE = "not measurable: "


@dataclass(frozen=True)
class Statement:
    """One statement of a seed file: ``id`` is ``S<seed>-<n>``; decided by ``claims``, or ``reason`` says why not."""

    id: str
    seed: str
    text: str
    claims: tuple[str, ...] = ()
    reason: str | None = None


def _statements(seed: str, *entries: tuple) -> tuple[Statement, ...]:
    """Statements ``S<seed>-01``, ``-02``, ... from (text, claims or reason) pairs."""
    out = []
    for n, (text, decided) in enumerate(entries, start=1):
        claims, reason = ((), decided) if isinstance(decided, str) else (tuple(decided), None)
        out.append(Statement(f"S{seed}-{n:02d}", seed, text, claims, reason))
    return tuple(out)


# Claim ids used by more than one statement.
ZIGZAG = "optimizer-paths/sgd-zigzags"
DIRECT = "optimizer-paths/others-more-direct"
LOCAL_MINIMUM = "optimizer-paths/momentum-passes-local-minimum"
SGD_SLOWEST = "optimizer-mnist/sgd-highest-loss"
OTHERS_MORE_ACCURATE = "optimizer-mnist/others-higher-accuracy"
XAVIER_SPREAD = "init-activations/xavier-keeps-spread"
HE_SPREAD = "init-activations/he-keeps-spread-relu"
XAVIER_RELU_SHRINKS = "init-activations/xavier-relu-shrinks"
STD001_NO_LEARNING = "init-mnist/std001-does-not-learn"
BN_FASTER = "batchnorm/learns-faster"
BN_SCALE = "batchnorm/less-dependent-on-scale"
BN_GRADIENT_SCALE = "vanishing-gradients/bn-scale-independent"
LR_BAND = "hyperparameter-search/best-lr-band"
SIGMOID_VANISHES = "vanishing-gradients/sigmoid-vanishes"
BN_SHRINKS_GAP = "batchnorm-overfitting/shrinks-gap"

STATEMENTS: tuple[Statement, ...] = (
    *_statements(
        "000",
        ("On an anisotropic function such as f(x, y) = x\u00b2/20 + y\u00b2, SGD's search path is inefficient: "
         "it zig-zags.", (ZIGZAG, DIRECT)),
        ("Momentum, AdaGrad and Adam improve on this weakness of SGD.", (DIRECT,)),
        ("Momentum's term \u03b1v keeps the update from changing abruptly from one step to the next.",
         ("optimizer-paths/momentum-update-smooth",)),
        ("Momentum's path rolls like a ball in a bowl and zig-zags less than SGD's.", (ZIGZAG,)),
        ("Too small a learning rate makes training take long.", (LR_BAND,)),
        ("Too large a learning rate makes training diverge.", NO_EXPERIMENT),
        ("AdaGrad lowers the learning rate most for the parameter elements that have been updated most, so the "
         "decay differs from element to element.", NO_EXPERIMENT),
        ("On MNIST, SGD learns slowest of SGD, Momentum, AdaGrad and Adam.", (SGD_SLOWEST,)),
        ("On MNIST, Momentum, AdaGrad and Adam learn at about the same pace.",
         ("optimizer-mnist/adaptive-same-pace",)),
        ("In general Momentum, AdaGrad and Adam learn faster than SGD and sometimes reach a higher final "
         "accuracy.", (SGD_SLOWEST, OTHERS_MORE_ACCURATE)),
        ("With weights of std 1, the sigmoid outputs of a deep net pile up at 0 and 1.",
         ("init-activations/sigmoid-std1-saturates",)),
        ("Outputs piled at 0 and 1 make the gradients vanish, since the sigmoid's derivative goes to 0 there.",
         ("init-activations/sigmoid-std1-small-derivative", "init-activations/sigmoid-std1-gradient-shrinks")),
        ("With weights of std 0.01, the sigmoid outputs concentrate around 0.5: the neurons all give nearly the "
         "same value, and the layer loses expressive power.", ("init-activations/sigmoid-std001-collapses",)),
        ("With weights of std 0.01 the gradients do not vanish.",
         ("init-activations/sigmoid-std001-full-derivative", "init-activations/sigmoid-std001-gradient-holds")),
        ("Xavier initialisation (std 1/\u221an for n nodes in the previous layer) spreads every layer's "
         "activations widely.", (XAVIER_SPREAD,)),
        ("Xavier initialisation is the standard in common deep-learning frameworks.",
         NOT_MEASURABLE + "a statement about what frameworks use"),
        ("For ReLU, He initialisation (std \u221a(2/n)) spreads the activations wider than Xavier, making up for "
         "ReLU being zero for negative inputs.", (HE_SPREAD, XAVIER_RELU_SHRINKS)),
        ("On MNIST, a net started from std 0.01 barely learns, while Xavier and He learn smoothly.",
         (STD001_NO_LEARNING, "init-mnist/xavier-he-learn")),
        ("Batch normalisation speeds up learning.", (BN_FASTER,)),
        ("With batch normalisation, training depends little on the initial weights.", (BN_SCALE, BN_GRADIENT_SCALE)),
        ("Batch normalisation suppresses overfitting (and lessens the need for dropout).",
         (BN_SHRINKS_GAP, "batchnorm-overfitting/lessens-dropout-need")),
        ("Batch normalisation transforms each mini-batch's inputs to mean 0 and variance 1.", NO_EXPERIMENT),
        ("Whether batch normalisation belongs before or after the activation is still being studied.",
         NOT_MEASURABLE + "a remark on open research"),
    ),
    *_statements(
        "001",
        ("On anisotropic functions, whose gradient changes strongly with direction, SGD's search path is very "
         "inefficient.", (ZIGZAG, DIRECT)),
        ("Momentum, AdaGrad and Adam overcome this weakness of SGD.", (DIRECT,)),
        ("AdaGrad lowers the learning rate along the directions that have moved a lot, which makes learning "
         "faster and more stable.", NO_EXPERIMENT),
        ("Adam is the most used optimizer.", NOT_MEASURABLE + "a statement about popularity"),
        ("If all weights start at 0, training does not proceed properly.",
         ("init-symmetry/zeros-learn-only-output-bias", "init-symmetry/random-start-learns-more")),
        ("If the initial weights are too small, training does not proceed.", (STD001_NO_LEARNING,)),
        ("If the initial weights are too large, training does not proceed either.", ("batchnorm/too-large-fails",)),
        ("The network's expressive power is greatest when every layer's activations are evenly spread.",
         NOT_MEASURABLE + "expressive power is not a quantity the note defines"),
        ("Xavier initialisation, derived for linear activations, suits sigmoid and tanh, which are nearly linear "
         "around 0.", (XAVIER_SPREAD,)),
        ("He initialisation (std \u221a(2/n)) is made for ReLU.",
         (HE_SPREAD, XAVIER_RELU_SHRINKS, "init-mnist/he-beats-xavier")),
        ("Batch normalisation, proposed by Google in 2015, is used in almost every network architecture today.",
         NOT_MEASURABLE + "history and popularity"),
        ("Batch normalisation makes learning faster.", (BN_FASTER,)),
        ("Batch normalisation lessens the influence of the initial parameters, so learning is more stable.",
         (BN_SCALE, BN_GRADIENT_SCALE)),
        ("Batch normalisation suppresses overfitting.", (BN_SHRINKS_GAP,)),
        ("The shift of each layer's input distribution during training (covariate shift) grows with depth, each "
         "layer's change amplifying the next one's, and it slows training.", NO_EXPERIMENT),
        ("Normalising alone limits what a layer can represent; the learned scale \u03b3 and shift \u03b2 "
         "restore it.", NO_EXPERIMENT),
        ("Overfitting appears when a model is too expressive for its data: too little data, or a network so deep "
         "that it learns every training example by heart.",
         ("overfit-weight-decay/overfits-without", "overfit-dropout/overfits-without")),
        ("An overfitted network tends to have some parameters grown excessively large.",
         ("overfit-weight-decay/weights-grow-without-decay",)),
        ("Weight decay, adding the squared weights to the loss, keeps the parameters from growing and so "
         "suppresses overfitting.", ("overfit-weight-decay/shrinks-gap",)),
        ("Dropout, zeroing each input dimension with some probability while training, is a very effective way "
         "to fight overfitting.", ("overfit-dropout/shrinks-gap",)),
        ("Papers link dropout to a Bayesian framework, which would explain why it curbs overfitting.",
         NOT_MEASURABLE + "a statement about the literature"),
        ("Image augmentation, a random transform of every training image, is an effective way to prevent "
         "overfitting.", ("augmentation/raises-test-accuracy", "augmentation/shrinks-gap")),
        ("Hyperparameter search is luck plus experience.", NOT_MEASURABLE + "an opinion"),
        ("Fully connected layers are inefficient for images (they treat near and far pixels alike); convolution "
         "layers, which favour neighbouring pixels, remove that inefficiency.",
         ("cnn-mnist/cnn-beats-mlp", "cnn-mnist/cnn-beats-longer-mlp", "cnn-mnist/conv-fraction-of-parameters")),
        ("Pooling is used to reduce a CNN's amount of computation.", ("conv-layers/pooling-cuts-macs",)),
    ),
    *_statements(
        "002",
        ("On an anisotropic function SGD, which always steps along the gradient, follows an inefficient path "
         "and learns relatively poorly.", (ZIGZAG, DIRECT)),
        ("On an isotropic function the gradient points at the minimum everywhere; on an anisotropic one it "
         "mostly does not.",
         ("gradient-directions/isotropic-points-at-minimum", "gradient-directions/anisotropic-mostly-not")),
        ("On f(x, y) = x\u00b2/20 + y\u00b2, SGD's path zig-zags sharply.", (ZIGZAG,)),
        ("Momentum's path rolls like a ball in a bowl and zig-zags less than SGD's.", (ZIGZAG,)),
        ("Under momentum the velocity along x builds up steadily (a small force of constant sign), while the "
         "velocity along y does not settle (a large force that alternates).",
         ("optimizer-paths/momentum-x-velocity-builds",)),
        ("Overall, momentum approaches the minimum along x faster than SGD.",
         ("optimizer-paths/momentum-nearer-along-x",)),
        ("Learning-rate decay (large steps first, smaller ones later) is an effective way to set the learning "
         "rate.", NO_EXPERIMENT),
        ("AdaGrad's updates weaken as training goes on, since it keeps adding up the squared gradients; they can "
         "reach 0 and stop altogether.", ("adaptive-rates/adagrad-step-shrinks",)),
        ("AdaGrad lowers the learning rate most for the elements that moved most, so the decay differs from "
         "element to element.", NO_EXPERIMENT),
        ("On the anisotropic bowl AdaGrad first moves far along y, but its learning rate along y falls fast, so "
         "the y-steps weaken quickly.", ("optimizer-paths/adagrad-y-steps-fade",)),
        ("AdaGrad's path zig-zags less than SGD's.", (ZIGZAG,)),
        ("Adam was proposed in 2015.", NOT_MEASURABLE + "a historical fact"),
        ("Adam's path resembles momentum's but sways less from side to side, since it adapts the learning rate.",
         ("optimizer-paths/adam-sways-less",)),
        ("No method is always best on every problem: on the problems tried, each is beaten on at least one.",
         ("optimizer-problems/no-optimizer-best-everywhere",)),
        ("On MNIST, the outcome of the comparison depends on the learning rate and the network's structure.",
         ("optimizer-problems/mnist-depends-on-lr", "optimizer-problems/mnist-depends-on-structure")),
        ("In general Momentum, AdaGrad and Adam learn faster than SGD and sometimes reach a higher final "
         "accuracy.", (SGD_SLOWEST, OTHERS_MORE_ACCURATE)),
    ),
    *_statements(
        "003",
        ("Too small a learning rate makes learning slow.", (LR_BAND,)),
        ("On a convex function gradient descent reaches the optimum from any starting point.",
         ("gradient-directions/convex-any-start",)),
        ("On a non-convex function the result depends on the start: gradient descent can get stuck in a local "
         "minimum and miss the global one.", (LOCAL_MINIMUM,)),
        ("Deep-learning losses are mostly non-convex, so training risks local minima.",
         NOT_MEASURABLE + "about deep-learning losses in general, not one network"),
        ("Gradient descent cannot get away from a saddle point, where the gradient is zero without an extremum.",
         ("optimizer-paths/momentum-escapes-saddle",)),
        ("Momentum helps against local minima.", (LOCAL_MINIMUM,)),
        ("Momentum helps against noise in the gradient.", NO_EXPERIMENT),
        ("Momentum needs twice the memory of gradient descent (one more vector per parameter).",
         ("training-memory/optimizer-state-arrays",)),
        ("AdaGrad lowers the learning rate of the variables with large gradients, so the other variables can "
         "learn.", ("optimizer-paths/adagrad-slows-steep-coordinate",)),
        ("AdaGrad stops learning when training runs long.",
         ("adaptive-rates/adagrad-step-shrinks", "adaptive-rates/adagrad-learns-less-late")),
        ("RMSProp, an exponential average instead of AdaGrad's sum, keeps the relative learning rates but stops "
         "the accumulator from growing without bound, so it can learn longer.",
         ("adaptive-rates/rmsprop-step-holds", "adaptive-rates/adagrad-learns-less-late")),
        ("Adam combines RMSProp and momentum and is the most used optimizer in deep learning.",
         NOT_MEASURABLE + "a statement about popularity"),
        ("The number of trainable parameters grows with the square of the layer size.",
         ("training-memory/params-grow-quadratically",)),
        ("Sigmoid works poorly in deep networks, so ReLU is needed.",
         (SIGMOID_VANISHES, "vanishing-gradients/relu-he-holds")),
        ("Back-propagation stores the forward pass's intermediate results, which avoids computing anything "
         "twice at the cost of extra memory.",
         ("training-memory/stored-grows-with-depth", "training-memory/stored-grows-with-batch",
          "training-memory/forward-runs-once")),
        ("A 2-D Gaussian filter blurs the image.", ("conv-filters/blur-keeps-mean",)),
        ("A 2-D Gaussian filter removes noise.", ("conv-filters/blur-removes-noise",)),
        ("A Sobel filter gives the image differentiated along one direction and picks out the edges across it.",
         ("conv-filters/sobel-follows-gradient", "conv-filters/sobel-finds-edges")),
        ("A convolution layer performs C_in \u00d7 C_out convolutions.", ("conv-layers/channel-pairs",)),
        ("A pooling layer shrinks the feature map, merging several pixels into one.",
         ("conv-layers/pooling-shrinks-map",)),
        ("The same filter covers a larger part of the original image when applied after pooling: the receptive "
         "field grows.", ("receptive-field/footprint-matches-recursion", "receptive-field/pooling-widens-field")),
        ("A larger stride gives a smaller output.", ("conv-layers/stride-shrinks-output",)),
        ("Batch normalisation counters internal covariate shift, the change of each layer's input distribution "
         "during training.", NO_EXPERIMENT),
        ("Batch normalisation brings every layer to the same scale, which makes the learning rate easier to "
         "choose.", ("vanishing-gradients/bn-even", "vanishing-gradients/bn-evens-uneven")),
        ("At inference, batch normalisation with its running mean and variance and its scale and shift reduces "
         "to a single multiply and add.", ("bn-folding/same-outputs", "bn-folding/same-predictions")),
        ("Inception's 1x1 bottleneck convolutions keep the receptive field while cutting parameters and "
         "computation.", ("bottlenecks/inception-fewer-parameters", "bottlenecks/inception-fewer-macs",
                          "bottlenecks/inception-same-receptive-field")),
        ("GoogLeNet's auxiliary classifiers keep the gradients from vanishing in back-propagation.",
         ("bottlenecks/aux-heads-enlarge-early-gradient",)),
        ("Pre-activation (BN-ReLU-Conv instead of Conv-BN-ReLU) improves ResNet: a gradient highway with a "
         "dramatic effect.", ("resnet-preactivation/more-gradient-reaches-bottom",
                              "resnet-preactivation/highway-gap-grows-with-depth",
                              "resnet-preactivation/deep-trains-better",
                              "resnet-preactivation/training-gap-grows-with-depth")),
        ("DenseNet's 1x1 bottleneck keeps its computation from growing.",
         ("bottlenecks/densenet-bottleneck-slows-growth", "bottlenecks/densenet-bottleneck-cheaper-when-wide")),
    ),
    *_statements(
        "004",
        ("Gradients can vanish during training.", (SIGMOID_VANISHES,)),
        ("Gradients can explode during training.", ("vanishing-gradients/gradients-explode",)),
        ("The larger and more complex the model, the slower training becomes.", NO_EXPERIMENT),
        ("The more complex the model, the greater the risk of overfitting.", NO_EXPERIMENT),
        ("SGD is inefficient on some problems: on f(x, y) = x\u00b2/20 + y\u00b2 it zig-zags.", (ZIGZAG, DIRECT)),
        ("Too small a learning rate makes training take long.", (LR_BAND,)),
        ("Too large a learning rate keeps training from converging.", NO_EXPERIMENT),
        ("Learning-rate decay solves the problem of choosing the learning rate.", NO_EXPERIMENT),
        ("Weights started at 0 (or all equal) learn identically in back-propagation, so they must start at "
         "random values.", ("init-symmetry/zeros-learn-only-output-bias", "init-symmetry/constant-units-stay-identical",
                            "init-symmetry/constant-no-better-than-width-1", "init-symmetry/random-start-learns-more")),
        ("Xavier initialisation performs well with sigmoid and tanh.", (XAVIER_SPREAD,)),
        ("He initialisation spreads the values wider than Xavier, since ReLU outputs 0 for negative inputs.",
         (HE_SPREAD, XAVIER_RELU_SHRINKS)),
        ("Batch normalisation speeds up learning.", (BN_FASTER,)),
        ("Batch normalisation depends little on the initial values.", (BN_SCALE, BN_GRADIENT_SCALE)),
        ("Batch normalisation suppresses overfitting.", (BN_SHRINKS_GAP,)),
    ),
)

SEEDS = ("000", "001", "002", "003", "004")


# ---- verdicts ------------------------------------------------------------------------

PASS, FAIL, ERROR, NO_DATA, NOT_RUN = "PASS", "FAIL", "ERROR", "no data", "not run"


def claim_verdicts(results: Iterable) -> dict[str, str]:
    """Claim id -> verdict for the claims of ``results`` (ExperimentResults of one run, one data set).

    A verdict over several seeds reads ``"PASS 5/5"`` or ``"FAIL 3/5"``
    (:class:`trainlab.experiments.verdicts.SeedVerdict`); a plain claim
    ``PASS`` or ``FAIL``. An experiment whose run raised maps its name to
    ERROR (or "no data" when its data set was missing), which
    :func:`verdict_of` gives every claim of it that no seed decided.
    """
    out: dict[str, str] = {}
    for result in results:
        if result.error:
            out[result.name] = NO_DATA if getattr(result, "missing_data", False) else ERROR
        for claim in result.claims:
            out[claim.id] = getattr(claim, "verdict", None) or (PASS if claim.passed else FAIL)
    return out


def is_pass(verdict: str) -> bool:
    """``PASS`` or ``PASS k/k``: held (in every seed run)."""
    return verdict == PASS or verdict.startswith(PASS + " ") and not verdict.startswith(PASS + " so far")


def is_fail(verdict: str) -> bool:
    """``FAIL`` or ``FAIL k/N``: did not hold in at least one seed."""
    return verdict == FAIL or verdict.startswith(FAIL + " ")


def verdict_of(claim_id: str, verdicts: Mapping[str, str]) -> str:
    """The verdict of one claim: its own, its experiment's error, or "not run"."""
    return verdicts.get(claim_id) or verdicts.get(claim_id.split("/", 1)[0]) or NOT_RUN


def statement_verdict(statement: Statement, verdicts: Mapping[str, str]) -> str:
    """PASS when every deciding claim held (in every seed), FAIL when one did not; else how far the run got."""
    if statement.reason is not None:
        return NO_EXPERIMENT if statement.reason == NO_EXPERIMENT else "not measurable"
    found = [verdict_of(c, verdicts) for c in statement.claims]
    if any(is_fail(v) for v in found):
        return FAIL
    held = sum(is_pass(v) for v in found)
    if held == len(found):
        return PASS
    if held:
        return f"PASS so far ({held} of {len(found)} claims run)"
    for state in (ERROR, NO_DATA):
        if state in found:
            return state
    return NOT_RUN


def verdict_groups(results) -> list[tuple[str | None, dict[str, str]]]:
    """The verdicts of ``results`` per data set: ``[(dataset, claim id -> verdict), ...]``.

    ``results`` is a run's ExperimentResults (grouped by their ``dataset``
    when some experiment ran on several; experiments without one count in
    every group), a mapping claim id ->
    verdict (one unnamed group), a mapping dataset -> such a mapping, or
    None (one empty group).
    """
    if results is None:
        return [(None, {})]
    if isinstance(results, Mapping):
        if results and all(isinstance(v, Mapping) for v in results.values()):
            return [(d, dict(v)) for d, v in results.items()]
        return [(None, dict(results))]
    results = list(results)
    datasets = list(dict.fromkeys(r.dataset for r in results if getattr(r, "dataset", None)))
    names = [r.name for r in results]
    if len(datasets) < 2 or len(set(names)) == len(names):
        # One column unless some experiment ran on more than one data set (an experiment whose own
        # data set is another, like architectures' Fashion-MNIST, does not make a run two-columned).
        return [(datasets[0] if len(datasets) == 1 else None, claim_verdicts(results))]
    return [(d, claim_verdicts(r for r in results if getattr(r, "dataset", None) in (d, None))) for d in datasets]


def _as_verdicts(results) -> dict[str, str]:
    """The verdicts of the first data set of ``results`` (see :func:`verdict_groups`)."""
    return verdict_groups(results)[0][1]


def registered_claims() -> dict[str, str]:
    """Every claim of every registered experiment: id -> source, in the order of the book."""
    from trainlab.experiments.base import EXPERIMENTS

    out: dict[str, str] = {}
    for name in EXPERIMENTS.names_in_order():
        out.update(EXPERIMENTS.get(name).claims)
    return out


def deciders(claim_id: str) -> list[str]:
    """Ids of the statements that claim ``claim_id`` helps decide."""
    return [s.id for s in STATEMENTS if claim_id in s.claims]


def counts(results=None) -> dict[str, int]:
    """How many statements are decided by claims, have no experiment yet, are not measurable; and verdicts.

    ``pass`` and ``fail`` count the statements of the first data set of ``results``.
    """
    return _counts(_as_verdicts(results))


def _counts(verdicts: Mapping[str, str]) -> dict[str, int]:
    decided = [s for s in STATEMENTS if s.reason is None]
    found = [statement_verdict(s, verdicts) for s in decided]
    return {"statements": len(STATEMENTS), "decided": len(decided),
            "no_experiment": sum(s.reason == NO_EXPERIMENT for s in STATEMENTS),
            "not_measurable": sum(s.reason is not None and s.reason != NO_EXPERIMENT for s in STATEMENTS),
            "pass": found.count(PASS), "fail": found.count(FAIL)}


def _summary(groups) -> str:
    n = _counts(groups[0][1])
    per_seed = ", ".join(f"{seed}: {sum(s.seed == seed for s in STATEMENTS)}" for seed in SEEDS)
    tallies = []
    for dataset, verdicts in groups:
        g = _counts(verdicts)
        tallies.append(f"{g['pass']} PASS, {g['fail']} FAIL" + (f" on {dataset}" if len(groups) > 1 else ""))
    return (f"{n['statements']} statements ({per_seed}): {n['decided']} decided by experiment claims "
            f"({'; '.join(tallies)} in this run), {n['no_experiment']} with no experiment yet, "
            f"{n['not_measurable']} not measurable.")


def _column(dataset: str | None, groups) -> str:
    return "verdict" if len(groups) == 1 else f"verdict, {dataset}"


def _claim_cell(claim_id: str, groups) -> str:
    if len(groups) == 1:
        return verdict_of(claim_id, groups[0][1])
    return ", ".join(f"{d} {verdict_of(claim_id, v)}" for d, v in groups)


# ---- markdown ------------------------------------------------------------------------

MARKDOWN_TITLE = "# The seeds' statements and the claims that decide them"
RUN_PREFIX = "Verdicts: "


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(results=None, *, run: str | None = None) -> str:
    """``docs/claims.md``: the ledger with each statement's verdicts in ``results``, then every claim's source.

    ``results`` is what :func:`verdict_groups` takes (a run's results, or
    verdicts by claim id, or by data set and claim id); ``None`` renders
    "not run" everywhere. ``run`` says which run the verdicts come from. A
    run on two data sets gets one verdict column per data set.
    """
    groups = verdict_groups(results)
    columns = [_column(d, groups) for d, _ in groups]
    lines = [
        MARKDOWN_TITLE, "",
        "Every statement of the five seed files (000 to 004, study notes on "
        "chapters 6-8 of *Deep Learning from Scratch*) that a measurement could decide, in English, with the "
        "experiment claims that decide it, or why nothing does. A statement passes when all of its claims "
        "pass; a claim run over several seeds passes only when it holds in every seed (`PASS 5/5`; "
        "`FAIL 3/5` held in 3 of 5). Written by `trainlab.experiments.ledger.render_markdown`; the statements "
        "live in `src/trainlab/experiments/ledger.py`, the claims in the experiments' `ClaimTable`s.", "",
        RUN_PREFIX + (run or "no run (every claim is \"not run\")."), "",
        _summary(groups), "",
        "| id | seed | statement | decided by | " + " | ".join(columns) + " |",
        "|---|---|---|---|" + "---|" * len(columns),
    ]
    for s in STATEMENTS:
        decided = (", ".join(f"`{c}` ({_claim_cell(c, groups)})" for c in s.claims) if s.claims
                   else _md(s.reason or ""))
        verdicts = " | ".join(statement_verdict(s, v) for _, v in groups)
        lines.append(f"| {s.id} | {s.seed} | {_md(s.text)} | {decided} | {verdicts} |")
    lines += ["", "## Every claim and its source", "",
              "Each claim of each experiment, the seed statements or book sections it comes from, and its verdict "
              "in the same run.", "",
              "| claim | source | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    for claim_id, source in registered_claims().items():
        verdicts = " | ".join(verdict_of(claim_id, v) for _, v in groups)
        lines.append(f"| `{claim_id}` | {_md(source)} | {verdicts} |")
    return "\n".join(lines) + "\n"


def verdicts_from_markdown(text: str):
    """The claim verdicts and the run description a page written by :func:`render_markdown` states.

    The verdicts are a mapping claim id -> verdict, or for a page with one
    column per data set a mapping dataset -> (claim id -> verdict).
    """
    run = None
    datasets: list[str | None] = [None]
    found: list[dict[str, str]] = [{}]
    in_claims = False
    for line in text.splitlines():
        if line.startswith(RUN_PREFIX) and run is None:
            run = line[len(RUN_PREFIX):]
        elif line.startswith("## Every claim"):
            in_claims = True
        elif in_claims and line.startswith("| claim | source |"):
            heads = [c.strip() for c in line.strip("|").split(" | ")][2:]
            datasets = [None] if heads == ["verdict"] else [h.split(", ", 1)[1] for h in heads]
            found = [{} for _ in datasets]
        elif in_claims and line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            for i, verdict in enumerate(cells[-len(datasets):]):
                found[i][cells[0].strip("`")] = verdict
    kept = [{k: v for k, v in f.items() if v != NOT_RUN} for f in found]
    if datasets == [None]:
        return kept[0], run
    return dict(zip(datasets, kept)), run


# ---- HTML (a section of the report) ----------------------------------------------------

def _html_verdict(verdict: str) -> str:
    kind = "pass" if is_pass(verdict) else "fail" if is_fail(verdict) or verdict == ERROR else "meta"
    return f'<span class="{kind}">{html.escape(verdict)}</span>'


def render_html(results) -> str:
    """The ledger as an HTML section, each verdict from ``results`` (the run being reported)."""
    groups = verdict_groups(results)
    rows = []
    for s in STATEMENTS:
        if s.claims:
            decided = "<br>".join(
                f"<code>{html.escape(c)}</code> "
                + ", ".join((f"{html.escape(d)} " if len(groups) > 1 else "") + _html_verdict(verdict_of(c, v))
                            for d, v in groups) for c in s.claims)
        else:
            decided = f'<span class="meta">{html.escape(s.reason)}</span>'
        verdicts = "".join(f"<td>{_html_verdict(statement_verdict(s, v))}</td>" for _, v in groups)
        rows.append(f"<tr><td>{s.id}</td><td>{s.seed}</td><td>{html.escape(s.text)}</td><td>{decided}</td>"
                    f"{verdicts}</tr>")
    heads = "".join(f"<th>{html.escape(_column(d, groups))}</th>" for d, _ in groups)
    return ('<h2 id="ledger">The seeds\' statements and the claims that decide them</h2>\n'
            f"<p>{html.escape(_summary(groups))} A statement passes when all of its claims pass; a claim run "
            "over several seeds passes only when it holds in every seed (PASS 5/5; FAIL 3/5 held in 3 of 5). "
            "The verdicts are this run's.</p>\n"
            f"<table><tr><th>id</th><th>seed</th><th>statement</th><th>decided by</th>{heads}</tr>"
            + "".join(rows) + "</table>")


# ---- the page from a finished run ---------------------------------------------------------

def describe_run(results, written: str | None = None) -> str:
    """One line naming the run: mode, seeds, data sets, when its metrics were written."""
    modes = sorted({"quick" if r.quick else "full" for r in results})
    counts_ = sorted({len(r.seeds) for r in results})
    firsts = sorted({r.seeds[0] for r in results})
    seeds = (f"{counts_[0]} seed{'s' if counts_[0] > 1 else ''}" if len(counts_) == 1
             else f"{counts_[0]} to {counts_[-1]} seeds per experiment")
    seeds += f" from seed {', '.join(map(str, firsts))}"
    datasets = list(dict.fromkeys(r.dataset for r in results if r.dataset))
    text = (f"the {' and '.join(modes)} `trainlab reproduce` run with {seeds} on {', '.join(datasets) or 'no data set'} "
            f"({len(results)} experiment runs)")
    if written:
        text += f", metrics written {written}"
    return text + "; each claim re-decided by its experiment's `check` from that run's `metrics.json`."

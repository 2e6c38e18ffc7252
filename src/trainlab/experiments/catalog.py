"""Imports every experiment module, which registers it; the order is the book's."""

from trainlab.experiments import optimizer_paths  # noqa: F401
from trainlab.experiments import gradient_directions  # noqa: F401
from trainlab.experiments import optimizer_mnist  # noqa: F401
from trainlab.experiments import optimizer_problems  # noqa: F401
from trainlab.experiments import adaptive_rates  # noqa: F401
from trainlab.experiments import training_memory  # noqa: F401
from trainlab.experiments import init_activations  # noqa: F401
from trainlab.experiments import init_mnist  # noqa: F401
from trainlab.experiments import init_symmetry  # noqa: F401
from trainlab.experiments import batchnorm  # noqa: F401
from trainlab.experiments import overfit_weight_decay  # noqa: F401
from trainlab.experiments import overfit_dropout  # noqa: F401
from trainlab.experiments import bn_overfitting  # noqa: F401
from trainlab.experiments import augmentation  # noqa: F401
from trainlab.experiments import hyperparameter_search  # noqa: F401
from trainlab.experiments import vanishing_gradients  # noqa: F401
from trainlab.experiments import clusters_2d  # noqa: F401
from trainlab.experiments import bn_folding  # noqa: F401
from trainlab.experiments import conv_filters  # noqa: F401
from trainlab.experiments import conv_layers  # noqa: F401
from trainlab.experiments import receptive_field  # noqa: F401
from trainlab.experiments import cnn_mnist  # noqa: F401
from trainlab.experiments import architectures  # noqa: F401
from trainlab.experiments import bottlenecks  # noqa: F401
from trainlab.experiments import resnet_preactivation  # noqa: F401
from trainlab.experiments import speedrun_ablation  # noqa: F401

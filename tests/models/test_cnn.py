"""The CNN models: shapes, parameter and FLOP counts, checkpoints, folding, gradients, a short training run."""

import numpy as np
import pytest

from trainlab.checkpoint import load, save
from trainlab.data import make_tiny_images
from trainlab.errors import UnknownNameError
from trainlab.folding import FoldedModel, fold_batchnorm
from trainlab.gradcheck import check_layer_gradients
from trainlab.layers import AuxiliaryHead, Dropout
from trainlab.models import CNN_MODELS, DeepConvNet, SimpleConvNet, create_model
from trainlab.optim import Adam
from trainlab.training import Trainer

NAMES = ["simple-convnet", "deep-convnet", "resnet", "inception", "densenet"]


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)


def test_registry_lists_the_five_models():
    assert sorted(CNN_MODELS.names()) == sorted(NAMES)
    with pytest.raises(UnknownNameError, match="valid names"):
        create_model("vgg16")


@pytest.mark.parametrize("name", NAMES)
def test_forward_backward_shapes(name, images):
    model = create_model(name, seed=1)
    scores = model.forward(images, train=True)
    assert scores.shape == (3, 10) and scores.dtype == np.float32 and np.isfinite(scores).all()
    assert model.backward(np.ones_like(scores) / 3) is None  # the first convolution skips dx by default
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())
    assert model.forward(images, train=False).shape == (3, 10)


def test_parameter_and_flop_counts():
    simple = SimpleConvNet()
    # conv 30*(1*5*5) + 30; affine 4320*100 + 100; affine 100*10 + 10
    assert simple.num_parameters() == 780 + 432100 + 1010
    # MACs: 24*24 outputs * 30 filters * 25 taps, then the two affine layers
    assert simple.flops_per_sample() == 24 * 24 * 30 * 25 + 4320 * 100 + 100 * 10
    deep = DeepConvNet()
    convs = [(28, 1, 16), (28, 16, 16), (14, 16, 32), (16, 32, 32), (8, 32, 64), (8, 64, 64)]
    assert deep.flops_per_sample() == sum(s * s * cout * cin * 9 for s, cin, cout in convs) + 1024 * 50 + 50 * 10
    for name in NAMES:
        model = create_model(name)
        assert 50_000 < model.num_parameters() < 500_000
        assert 500_000 < model.flops_per_sample() < 20_000_000


def test_flops_leave_out_auxiliary_heads():
    with_aux, without = create_model("inception"), create_model("inception", aux_weight=0.0)
    assert sum(isinstance(m, AuxiliaryHead) for m in with_aux.modules()) == 2
    assert with_aux.flops_per_sample() == without.flops_per_sample()
    assert with_aux.num_parameters() > without.num_parameters()


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_round_trip(name, images, tmp_path):
    model = create_model(name, seed=2)
    x = images
    t = np.array([0, 1, 2])
    Trainer(model, Adam(model.parameters()), batch_size=3, iterations=2, progress=False,
            eval_train=False).fit(x, t)  # moves weights and running statistics
    restored = load(save(model, tmp_path / name))
    assert type(restored) is type(model) and restored.get_config() == model.get_config()
    np.testing.assert_array_equal(restored.forward(x, train=False), model.forward(x, train=False))


def test_post_activation_resnet_round_trip_and_fold(images, tmp_path):
    model = create_model("resnet", widths=(4, 8), preactivation=False, seed=2)
    pre = create_model("resnet", widths=(4, 8), seed=2)
    # Post-activation BatchNorms (gamma and beta each): after the stem (4); in the projecting block, after the
    # last convolution (8) instead of before the first (4), and in the shortcut (8); none before the pool (8).
    assert model.num_parameters() == pre.num_parameters() + 2 * (4 + 8 - 4 + 8 - 8)
    assert model.flops_per_sample() == pre.flops_per_sample()
    Trainer(model, Adam(model.parameters()), batch_size=3, iterations=2, progress=False,
            eval_train=False).fit(images, np.array([0, 1, 2]))
    restored = load(save(model, tmp_path / "postact"))
    assert restored.get_config() == model.get_config() and restored.get_config()["preactivation"] is False
    np.testing.assert_array_equal(restored.forward(images, train=False), model.forward(images, train=False))
    np.testing.assert_allclose(fold_batchnorm(model).forward(images, train=False), model.forward(images, train=False),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["resnet", "inception", "densenet"])
def test_folded_model_gives_the_same_predictions(name, images, tmp_path):
    model = create_model(name, seed=3)
    for _ in range(2):
        model.forward(images, train=True)
    folded = fold_batchnorm(model)
    np.testing.assert_allclose(folded.forward(images, train=False), model.forward(images, train=False),
                               rtol=1e-4, atol=1e-4)
    # The blocks' folded insides (not what their constructors build) survive a checkpoint.
    save(folded, tmp_path / "folded.npz")
    np.testing.assert_array_equal(load(tmp_path / "folded.npz").predict(images), folded.predict(images))


def test_folded_cnn_keeps_the_inference_interface_and_saves(images, tmp_path):
    model = create_model("resnet", seed=3)
    for _ in range(2):
        model.forward(images, train=True)
    folded = fold_batchnorm(model)
    assert isinstance(folded, FoldedModel) and folded.source == "ResNet"
    assert folded.input_shape == model.input_shape
    assert folded.num_parameters() < model.num_parameters()  # the BatchNorms' gamma and beta are gone
    assert folded.flops_per_sample() == model.flops_per_sample()
    labels = model.predict(images).argmax(axis=1)
    labels[::2] = (labels[::2] + 1) % 10  # some right, some wrong, so accuracy has something to measure
    expected = np.mean(labels == model.predict(images).argmax(axis=1))
    assert 0 < expected < 1
    assert folded.accuracy(images, labels) == model.accuracy(images, labels) == expected
    save(folded, tmp_path / "folded.npz")
    restored = load(tmp_path / "folded.npz")
    assert type(restored) is FoldedModel and restored.get_config() == folded.get_config()
    np.testing.assert_array_equal(restored.predict(images), folded.predict(images))
    refolded = fold_batchnorm(restored)  # nothing left to fold: same layers, same description
    assert refolded.get_config() == folded.get_config()


def test_simple_convnet_gradients_float64(rng):
    model = SimpleConvNet((1, 6, 6), filter_num=2, filter_size=3, hidden_size=4, n_classes=3,
                          input_grad=True, seed=0, dtype=np.float64)
    x = rng.standard_normal((2, 1, 6, 6))
    for key, err in check_layer_gradients(model, x).items():
        assert err < 1e-6, key


def test_deep_convnet_follows_the_book():
    model = DeepConvNet(seed=0)
    kinds = [type(m).__name__ for m in model.layers]
    assert kinds.count("Conv2d") == 6 and kinds.count("MaxPool2d") == 3 and kinds.count("Linear") == 2
    assert isinstance(model.layers[-2], Dropout)  # dropout before the last affine layer, not on the logits
    assert model.layers[7].padding == (2, 2)  # the fourth convolution pads by 2 (14 -> 16)


def test_deep_convnet_in_the_books_order():
    kinds = [type(m).__name__ for m in DeepConvNet(seed=0, relu_after_pool=False).layers]
    assert kinds[:5] == ["Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d"]
    kinds = [type(m).__name__ for m in DeepConvNet(seed=0).layers]
    assert kinds[:5] == ["Conv2d", "ReLU", "Conv2d", "MaxPool2d", "ReLU"]


@pytest.mark.parametrize("model_class, kwargs", [
    (SimpleConvNet, {"filter_num": 4, "hidden_size": 8}),
    (DeepConvNet, {"hidden_size": 8, "dropout": 0.0})])
def test_relu_after_pool_is_the_books_network(model_class, kwargs, rng):
    """conv - pool - ReLU gives the book's conv - ReLU - pool outputs, input gradients and weight gradients."""
    x = rng.standard_normal((3, 1, 28, 28))
    x[0] = 0.0  # an all-zero image: windows of equal (zero) values everywhere
    x[1, :, ::2, ::2] = x[1, :, 1::2, 1::2]  # ties inside windows
    dscores = rng.standard_normal((3, 10))
    results = []
    for order in (True, False):
        model = model_class(seed=3, dtype=np.float64, input_grad=True, relu_after_pool=order, **kwargs)
        # Random biases (the same for both) make many windows entirely negative (rectified to zero).
        biases = np.random.default_rng(7)
        for p in model.parameters():
            if p.data.ndim == 1:
                p.data[...] = biases.standard_normal(p.data.shape)
        scores = model.forward(x, train=True)
        dx = model.backward(dscores)
        results.append((scores, dx, [p.grad.copy() for p in model.parameters()]))
    (s1, dx1, g1), (s2, dx2, g2) = results
    np.testing.assert_allclose(s1, s2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx1, dx2, rtol=1e-12, atol=1e-12)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_simple_convnet_learns_tiny_images():
    x, t = make_tiny_images(400, n_classes=4, size=8, seed=0)
    model = SimpleConvNet((1, 8, 8), filter_num=8, filter_size=3, hidden_size=32, n_classes=4, seed=0)
    history = Trainer(model, Adam(model.parameters(), lr=3e-3), batch_size=50, epochs=6, seed=0,
                      progress=False).fit(x, t)
    assert history.last("train_acc") > 0.95

"""save/load: exact round trip, atomic writes, clear errors for foreign or damaged files."""

import json
import os

import numpy as np
import pytest

from trainlab import checkpoint
from trainlab.checkpoint import load, load_checkpoint, save
from trainlab.errors import CheckpointError
from trainlab.layers import BatchNorm1d, Dropout, Linear, Sequential, Sigmoid
from trainlab.models import MultiLayerNet


def _net(seed=0, **kw):
    net = MultiLayerNet(6, [5, 4], 3, use_batchnorm=True, dropout=0.1, seed=seed, **kw)
    rng = np.random.default_rng(seed)
    x, t = rng.standard_normal((16, 6)).astype(np.float32), rng.integers(0, 3, 16)
    for _ in range(3):
        net.gradient(x, t)  # moves running statistics away from their start
    return net, x


def test_round_trip_is_exact(tmp_path):
    net, x = _net()
    path = save(net, tmp_path / "model.npz", metadata={"epoch": 3, "acc": 0.5})
    restored, meta = load_checkpoint(path)
    assert type(restored) is MultiLayerNet
    assert meta == {"epoch": 3, "acc": 0.5}
    for (name, a), (name2, b) in zip(net.state_dict().items(), restored.state_dict().items()):
        assert name == name2
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(net.forward(x, train=False), restored.forward(x, train=False))


def test_round_trip_float64_and_plain_sequential(tmp_path):
    net = Sequential(Linear(3, 4, rng=np.random.default_rng(1), dtype=np.float64), BatchNorm1d(4, dtype=np.float64),
                     Sigmoid(), Dropout(0.2), Linear(4, 2, dtype=np.float64))
    path = save(net, tmp_path / "seq")  # suffix added
    assert path.name == "seq.npz"
    restored = load(path)
    assert [type(layer) for layer in restored] == [type(layer) for layer in net]
    x = np.random.default_rng(0).standard_normal((5, 3))
    np.testing.assert_array_equal(net(x), restored(x))


def test_load_into_given_model_checks_architecture(tmp_path):
    net, _ = _net()
    path = save(net, tmp_path / "m.npz")
    same_shape, _ = _net(seed=9)
    load(path, same_shape)  # the seed does not change the architecture
    np.testing.assert_array_equal(same_shape.state_dict()["0.weight"], net.state_dict()["0.weight"])
    other = MultiLayerNet(6, [5, 5], 3, use_batchnorm=True, dropout=0.1)
    with pytest.raises(CheckpointError, match="different architecture"):
        load(path, other)


def test_optimizer_state_round_trip(tmp_path):
    from trainlab.optim import Adam

    net, x = _net()
    t = np.zeros(16, np.int64)
    opt = Adam(net.parameters(), lr=1e-2)
    for _ in range(3):
        net.gradient(x, t)
        opt.step()
    path = save(net, tmp_path / "m.npz", optimizer=opt)
    net2 = load(path)
    opt2 = Adam(net2.parameters(), lr=1e-2)
    load_checkpoint(path, net2, optimizer=opt2)
    for model, optimizer in ((net, opt), (net2, opt2)):
        for layer in model.modules():
            if isinstance(layer, Dropout):
                layer.p = 0.0  # same function for both
        model.gradient(x, t)
        optimizer.step()
    for (name, a), (_, b) in zip(net.state_dict().items(), net2.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_crash_mid_write_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    net, x = _net()
    path = save(net, tmp_path / "m.npz")
    before = path.read_bytes()

    def exploding_savez(f, **arrays):
        f.write(b"partial garbage")
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(checkpoint.np, "savez", exploding_savez)
    other, _ = _net(seed=5)
    with pytest.raises(KeyboardInterrupt):
        save(other, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary file left behind
    load(path)


def test_truncated_file(tmp_path):
    net, _ = _net()
    path = save(net, tmp_path / "m.npz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="damaged or truncated"):
        load(path)


def test_flipped_byte_is_detected(tmp_path):
    net = Sequential(Linear(50, 40, rng=np.random.default_rng(0)))
    path = tmp_path / "m.npz"
    np.savez(path, **{"param:0.weight": net[0].weight.data, "param:0.bias": net[0].bias.data})
    save(net, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF  # inside the weight array's bytes
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="damaged"):
        load(path)


def test_foreign_files(tmp_path):
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.ones(3))
    with pytest.raises(CheckpointError, match="not a trainlab checkpoint"):
        load(plain)
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(CheckpointError):
        load(text)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, __trainlab__=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(CheckpointError, match="pickle"):
        load(pickled)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load(tmp_path / "missing.npz")


def test_header_lists_every_array(tmp_path):
    net, _ = _net()
    path = save(net, tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(f["__trainlab__"].tobytes())
        assert set(meta["arrays"]) == set(f.files) - {"__trainlab__"}
    assert meta["architecture"]["type"] == "MultiLayerNet"
    assert not any(name.startswith(".") for name in os.listdir(tmp_path))


def _write_as_older_release(path, edit_config):
    """Rewrite a checkpoint's header as an older release wrote it: ``edit_config`` changes the model config."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {name: f[name] for name in f.files}
    meta = json.loads(arrays.pop("__trainlab__").tobytes())
    del meta["header_sha256"]  # format version 1: before the header checksum
    meta["version"] = 1
    edit_config(meta["architecture"]["config"])
    arrays["__trainlab__"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    np.savez(path, **arrays)


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_older_mlp_checkpoint_with_weight_decay_loads(tmp_path, weight_decay):
    """Older releases kept the book's L2 strength in MultiLayerNet's config; such files still load."""
    net, x = _net()
    path = save(net, tmp_path / "old.npz", metadata={"epoch": 3})
    # The layout the release before this one wrote: weight_decay between inverted_dropout and seed.
    _write_as_older_release(path, lambda config: _insert_before(config, "seed", "weight_decay", weight_decay))
    with np.load(path, allow_pickle=False) as f:
        stored = json.loads(f["__trainlab__"].tobytes())["architecture"]["config"]
    assert stored["weight_decay"] == weight_decay and list(stored).index("weight_decay") < list(stored).index("seed")

    restored, meta = load_checkpoint(path)
    assert type(restored) is MultiLayerNet and meta == {"epoch": 3}
    assert "weight_decay" not in restored.get_config() and not hasattr(restored, "weight_decay")
    np.testing.assert_array_equal(net.forward(x, train=False), restored.forward(x, train=False))
    same, _ = _net(seed=9)
    load(path, same)  # the stored weight_decay is not architecture: a model built today matches the file
    np.testing.assert_array_equal(same.forward(x, train=False), net.forward(x, train=False))


def _insert_before(config, before, key, value):
    """Put ``key: value`` into the dict ``config`` just before the key ``before``."""
    items = list(config.items())
    config.clear()
    for k, v in items:
        if k == before:
            config[key] = value
        config[k] = v

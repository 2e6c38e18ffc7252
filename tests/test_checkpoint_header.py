"""The checkpoint header: checked field by field, covered by a checksum; version 1 files still load."""

import json

import numpy as np
import pytest

from trainlab import checkpoint_header
from trainlab.checkpoint import VERSION, load, load_checkpoint, save
from trainlab.errors import CheckpointError
from trainlab.layers import BatchNorm1d, Linear, Sequential
from trainlab.optim import Adam


def _saved(tmp_path, **kw):
    net = Sequential(Linear(4, 3, rng=np.random.default_rng(0)), BatchNorm1d(3), Linear(3, 2))
    return net, save(net, tmp_path / "m.npz", metadata={"epoch": 2, "note": "é"}, **kw)


def _rewrite(path, edit, *, reseal=True):
    """Apply ``edit`` to the header's dict; with ``reseal`` the header checksum is made to fit again."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {name: f[name] for name in f.files}
    meta = json.loads(arrays.pop("__trainlab__").tobytes())
    replaced = edit(meta)  # a value only when the edit replaces the whole header
    meta = meta if replaced is None else replaced
    if reseal and isinstance(meta, dict) and "header_sha256" in meta:
        meta["header_sha256"] = checkpoint_header.checksum({k: v for k, v in meta.items() if k != "header_sha256"})
    arrays["__trainlab__"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    np.savez(path, **arrays)


def _as_version_1(meta):
    del meta["header_sha256"]
    meta["version"] = 1


def _refused(path, match):
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match=match) as info:
        load(path)
    assert str(path) in str(info.value) and type(info.value) is CheckpointError
    assert info.value.__context__ is None or info.value.__suppress_context__
    assert path.read_bytes() == before
    return info.value


def test_new_files_are_version_2_with_a_header_checksum(tmp_path):
    _, path = _saved(tmp_path)
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(f["__trainlab__"].tobytes())
    assert VERSION == 2 and meta["version"] == 2
    rest = {k: v for k, v in meta.items() if k != "header_sha256"}
    assert meta["header_sha256"] == checkpoint_header.checksum(rest)


def test_version_1_file_without_checksum_loads(tmp_path):
    net, path = _saved(tmp_path)
    _rewrite(path, _as_version_1)
    model, meta = load_checkpoint(path)
    assert meta == {"epoch": 2, "note": "é"}
    np.testing.assert_array_equal(model[0].weight.data, net[0].weight.data)


def test_version_1_with_optimizer_state_loads(tmp_path):
    net = Sequential(Linear(4, 3, rng=np.random.default_rng(0)))
    opt = Adam(net.parameters())
    path = save(net, tmp_path / "m.npz", optimizer=opt)
    _rewrite(path, _as_version_1)
    load_checkpoint(path, Sequential(Linear(4, 3)), optimizer=Adam(net.parameters()))


def test_edited_header_fails_its_checksum(tmp_path):
    _, path = _saved(tmp_path)
    _rewrite(path, lambda m: m["metadata"].update(epoch=3), reseal=False)
    _refused(path, "header fails its checksum")


def test_version_2_without_checksum(tmp_path):
    _, path = _saved(tmp_path)
    _rewrite(path, _drop("header_sha256"))
    _refused(path, "needs field 'header_sha256'")


def test_checksum_of_wrong_type(tmp_path):
    _, path = _saved(tmp_path)
    _rewrite(path, lambda m: m.update(header_sha256=12), reseal=False)
    _refused(path, "header fails its checksum")


def _set(key, value):
    return lambda m: m.update({key: value})


def _drop(key):
    def apply(m):
        del m[key]
    return apply


def _arch(edit):
    def apply(m):
        edit(m["architecture"])
    return apply


@pytest.mark.parametrize("edit, match", [
    (_set("version", "2"), "field 'version' must be an int, got str"),
    (_set("version", True), "field 'version' must be an int"),
    (_set("version", 2.0), "field 'version' must be an int"),
    (_set("version", None), "field 'version' must be an int"),
    (_drop("version"), "no field 'version'"),
    (_set("version", 3), "version 3 is newer than this trainlab reads .2.: it was written by a later trainlab release"),
    (_set("version", 0), "unknown checkpoint format version 0"),
    (_drop("architecture"), "no field 'architecture'"),
    (_drop("arrays"), "no field 'arrays'"),
    (_drop("metadata"), "no field 'metadata'"),
    (_drop("optimizer"), "no field 'optimizer'"),
    (_set("arrays", []), "field 'arrays' must be an object"),
    (_set("arrays", {"param:0.weight": 5}), "SHA-256 of 'param:0.weight' must be 64 hex digits"),
    (_set("arrays", {"weights": "0" * 64}), "does not start with 'param:'"),
    (_set("arrays", {"optim:step_count": "0" * 64}), "'optimizer' is null"),
    (_set("architecture", "Sequential"), "field 'architecture' must be a layer spec"),
    (_set("architecture", None), "field 'architecture' must be a layer spec"),
    (_arch(lambda a: a.update(type=7)), "'type' must be a layer class name"),
    (_arch(lambda a: a.pop("type")), "'type' must be a layer class name"),
    (_arch(lambda a: a.update(config=[1])), "'config' must be an object"),
    (_arch(lambda a: a.update(extra=1)), "unknown keys"),
    (_arch(lambda a: a.update(children=[])), "'children' must be an object"),
    (_arch(lambda a: a.update(children={"0": "Linear"})), "field 'architecture.children.0' must be a layer spec"),
    (_arch(lambda a: a.update(type="NoSuchLayer")), "cannot rebuild architecture 'NoSuchLayer'"),
    (_arch(lambda a: a["config"].update(layers="x")), "cannot rebuild architecture"),
    (_set("optimizer", 3), "field 'optimizer' must be a class name or null"),
    (_set("metadata", [1, 2]), "field 'metadata' must be an object"),
    (_set("metadata", "x"), "field 'metadata' must be an object"),
    (_set("format", "other"), "not a trainlab checkpoint .format \"other\""),
    (_set("surprise", 1), "unknown fields"),
    (lambda m: [m], "its header is a list, not an object"),
    (lambda m: "text", "its header is str"),
])
def test_header_field_mistakes(tmp_path, edit, match):
    _, path = _saved(tmp_path)
    _rewrite(path, edit)
    _refused(path, match)


def test_deep_children_are_refused(tmp_path):
    _, path = _saved(tmp_path)

    def deepen(m):
        spec = m["architecture"]
        for _ in range(150):
            spec["children"] = {"0": {"type": "Sequential", "config": {}}}
            spec = spec["children"]["0"]
    _rewrite(path, deepen)
    _refused(path, "more than 100 deep")


@pytest.mark.parametrize("raw, match", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe{}", "not valid JSON"),
    (b"[" * 100000 + b"]" * 100000, "not valid JSON"),
    (b"", "not valid JSON"),
])
def test_header_bytes_that_are_not_json(tmp_path, raw, match):
    _, path = _saved(tmp_path)
    with np.load(path, allow_pickle=False) as f:
        arrays = {name: f[name] for name in f.files}
    arrays["__trainlab__"] = np.frombuffer(raw, dtype=np.uint8)
    np.savez(path, **arrays)
    _refused(path, match)


def test_array_listed_but_missing(tmp_path):
    _, path = _saved(tmp_path)
    _rewrite(path, lambda m: m["arrays"].update({"param:9.weight": "0" * 64}))
    _refused(path, "listed in the header but missing")


def test_header_limit(tmp_path, monkeypatch):
    from trainlab import checkpoint

    _, path = _saved(tmp_path)
    monkeypatch.setattr(checkpoint, "MAX_HEADER_BYTES", 10)
    _refused(path, "more than the 10")


def test_metadata_that_is_not_json_is_refused_at_save(tmp_path):
    net = Sequential(Linear(2, 2))
    with pytest.raises(CheckpointError, match="JSON values"):
        save(net, tmp_path / "m.npz", metadata={"f": object()})
    save(net, tmp_path / "m.npz", metadata={1: (2, 3), "nan": float("nan")})
    assert load_checkpoint(tmp_path / "m.npz")[1]["1"] == [2, 3]


def test_optimizer_state_of_another_optimizer(tmp_path):
    from trainlab.optim import SGD

    net = Sequential(Linear(4, 3, rng=np.random.default_rng(0)))
    path = save(net, tmp_path / "m.npz", optimizer=Adam(net.parameters()))
    with pytest.raises(CheckpointError, match="optimizer state does not match SGD") as info:
        load_checkpoint(path, net, optimizer=SGD(net.parameters(), momentum=0.9))
    assert str(path) in str(info.value)


def test_message_is_valid_text_when_the_header_holds_lone_surrogates(tmp_path):
    _, path = _saved(tmp_path)
    _rewrite(path, _arch(lambda a: a.update(type="Linear", config={"in_features": "\ud800", "out_features": 2})))
    error = _refused(path, "cannot rebuild architecture")
    str(error).encode("utf-8")


def test_lone_surrogates_in_metadata_round_trip(tmp_path):
    net = Sequential(Linear(2, 2))
    save(net, tmp_path / "m.npz", metadata={"name": "\ud800x"})
    assert load_checkpoint(tmp_path / "m.npz")[1] == {"name": "\ud800x"}

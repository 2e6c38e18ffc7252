"""A checkpoint of any model rebuilds in a fresh interpreter that imported nothing but trainlab.checkpoint."""

import subprocess
import sys

import numpy as np

from trainlab.checkpoint import save
from trainlab.folding import fold_batchnorm
from trainlab.models import MultiLayerNet, create_model


def test_models_rebuild_without_importing_their_module(tmp_path):
    for name, model in (("resnet", create_model("resnet", blocks_per_stage=1, seed=0)),
                        ("mlp", MultiLayerNet(784, [8], 10, seed=0)),
                        ("folded", fold_batchnorm(MultiLayerNet(784, [8], 10, use_batchnorm=True, seed=0)))):
        save(model, tmp_path / f"{name}.npz")
    code = ("import sys; from trainlab.checkpoint import load_checkpoint\n"
            "for name in ('resnet', 'mlp', 'folded'):\n"
            "    model, _ = load_checkpoint(sys.argv[1] + '/' + name + '.npz')\n"
            "    print(type(model).__name__, model.num_parameters())\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ResNet", str(create_model("resnet").num_parameters()),
                                  "MultiLayerNet", str(MultiLayerNet(784, [8], 10).num_parameters()),
                                  "FoldedModel", str(MultiLayerNet(784, [8], 10).num_parameters())]

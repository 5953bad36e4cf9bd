"""The reference: chapter 1 of Deep Learning from Scratch 2 in NumPy (numpy only)."""

from scratch import gradcheck, layers, optimizers, spiral, trainer
from scratch.train_custom_loop import train_custom_loop
from scratch.two_layer_net import WEIGHT_NAMES, TwoLayerNet, Weights, init_weights
from scratch_parity.neighbours import check_install

check_install()  # another distribution claiming `scratch`, `adapters` or `comparisons`

__all__ = [
    "WEIGHT_NAMES",
    "TwoLayerNet",
    "Weights",
    "gradcheck",
    "init_weights",
    "layers",
    "optimizers",
    "spiral",
    "train_custom_loop",
    "trainer",
]

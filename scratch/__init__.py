"""The reference: Deep Learning from Scratch 2 in NumPy (numpy only).

Chapter 1's network is imported here; the later chapters' modules carry the book's file
names and are imported as such: `scratch.util`, `scratch.negative_sampling_layer`,
`scratch.simple_cbow`, `scratch.simple_skip_gram`, `scratch.cbow`, `scratch.skip_gram`,
`scratch.ptb` (and `scratch.small_corpus`, the project's own corpus).
"""

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

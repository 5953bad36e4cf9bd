"""Two ladders from the book's NumPy to idiomatic PyTorch and JAX, one change per rung.

Every rung trains the book's network on the book's run (spiral data, hidden 10, batch 30,
SGD lr 1.0) from the book's weights and batches, and ends by asserting that its losses and
weights are the reference's. Run one with `python -m comparisons.rosetta.ladder.torch_2_autograd`
(300 epochs) and read it beside the rung before it: `diff torch_1_tensors.py torch_2_autograd.py`.
"""

RUNGS = {
    "torch": (
        "numpy_0_book",  # the book: TwoLayerNet, hand-written backward, SGD
        "torch_1_tensors",  # torch tensors, the same hand-written backward
        "torch_2_autograd",  # loss.backward() instead of the hand-written backward
        "torch_3_nn",  # nn.Sequential(nn.Linear, nn.Sigmoid, nn.Linear) + F.cross_entropy
        "torch_4_optim",  # torch.optim.SGD instead of the update by hand
    ),
    "jax": (
        "numpy_0_book",
        "jax_1_numpy",  # jax.numpy arrays, the hand-written backward, new arrays per update
        "jax_2_grad",  # jax.grad instead of the hand-written backward
        "jax_3_optax",  # optax.sgd instead of the update by hand
        "jax_4_jit",  # the step compiled with jax.jit
        "jax_5_scan",  # the whole loop in one lax.scan
    ),
}

"""Two ladders from the book's NumPy to idiomatic PyTorch and JAX, one change per rung.

Every rung trains the book's network on the book's run (spiral data, hidden 10, batch 30,
SGD lr 1.0) from the book's weights and batches, and ends by asserting that its losses and
weights are the reference's. Run one with `python -m comparisons.rosetta.ladder.torch_3_autograd`
(300 epochs) and read it beside the rung before it: `diff torch_2_function.py torch_3_autograd.py`.
Each prints its steps, the seconds its training took (imports, data and check outside the
clock), its last loss and how close it came to the reference ("matches the reference
(max |dW| 5.3e-13)").
"""

RUNGS = {
    "torch": (
        "numpy_0_book",  # the book: TwoLayerNet, hand-written backward, SGD
        "torch_1_tensors",  # torch tensors, the same hand-written backward
        "torch_2_function",  # the book's layers as torch.autograd.Function (+ gradcheck)
        "torch_3_autograd",  # autograd derives the backward from torch's operations
        "torch_4_nn",  # nn.Sequential(nn.Linear, nn.Sigmoid, nn.Linear) + F.cross_entropy
        "torch_5_optim",  # torch.optim.SGD instead of the update by hand
        "torch_6_module",  # class TwoLayerNet(nn.Module): the model as a class
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

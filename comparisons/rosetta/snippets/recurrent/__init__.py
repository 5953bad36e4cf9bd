"""The snippets of chapters 5-6, the recurrent language
models: the book's NumPy, idiomatic PyTorch and idiomatic JAX,
one module each, laid out as snippets/ lays out chapter 1's."""

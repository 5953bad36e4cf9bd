"""The snippets of chapters 2-4, word vectors and word2vec: the
book's NumPy, idiomatic PyTorch and idiomatic JAX, one module
each, laid out as snippets/ lays out chapter 1's."""

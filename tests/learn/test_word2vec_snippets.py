"""Every snippet of the Rosetta's chapters 2-4 computes the reference's numbers (or differs
where its concept says it does), in float64, on word vectors and batches of the book's
kind; and the concepts are wired as chapter 1's are."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.word2vec import book_data
from comparisons import rosetta
from comparisons.rosetta import word2vec
from comparisons.rosetta.word2vec import SNIPPET_TEST
from scratch import small_corpus
from scratch.layers import Embedding
from scratch.negative_sampling_layer import NegativeSamplingLoss, UnigramSampler
from scratch.simple_cbow import SimpleCBOW
from scratch.trainer import remove_duplicate
from scratch.util import convert_one_hot, create_contexts_target, most_similar, preprocess
from tests.helpers import need
from tests.learn.helpers import agree, framework_state, rendered

pytestmark = pytest.mark.crossframework

CONCEPTS = tuple(c for c in rosetta.CONCEPTS if c.snippet_test == SNIPPET_TEST)


@pytest.fixture
def fw():
    """(book, torch snippets, jax snippets, torch, jnp) with torch's generator forked and
    JAX in float64."""
    need("torch", "jax")
    from comparisons.rosetta.snippets.word2vec import book, jax_code, torch_code

    with framework_state():
        yield book, torch_code, jax_code, torch_code.torch, jax_code.jnp


@pytest.fixture(scope="module")
def cbow_batch():
    """A CBOW batch of the small corpus: weights, h, targets and the book's samples."""
    corpus = small_corpus.load_data(sentences=60, seed=3)[0]
    d = book_data("cbow", corpus, hidden_size=6, batch_size=20, max_epoch=1, window_size=2)
    rows = d.schedule[0]
    W_in = 40 * d.weights["W_in"]  # lively: the scores are not all near 0
    h = W_in[d.contexts[rows]].mean(axis=1)  # (N, H)
    return corpus, 40 * d.weights["W_out"], h, d.target[rows], d.negatives[0]


def test_every_word2vec_concept_is_in_the_catalogue_and_renders():
    assert CONCEPTS and {c.id for c in CONCEPTS} == {f["id"] for f in word2vec.CONCEPTS}
    shown = rendered(CONCEPTS, (2, 3, 4), SNIPPET_TEST)
    assert "np.add.at" in shown["embedding"]["numpy"]
    assert "nn.Embedding" in shown["embedding"]["torch"] and "jnp.take" in shown["embedding"]["jax"]
    assert "F.binary_cross_entropy_with_logits" in shown["negative_sampling"]["torch"]
    assert "optax.sigmoid_binary_cross_entropy" in shown["negative_sampling"]["jax"]
    assert "F.cosine_similarity" in shown["similarity"]["torch"]
    assert "jax.grad" in shown["shared_weights"]["jax"]


def test_similarity_snippets_agree_with_the_reference(fw, capsys):
    book, torch_code, jax_code, torch, jnp = fw
    corpus, word_to_id, id_to_word = preprocess("You say goodbye and I say hello.")
    W = np.random.RandomState(0).randn(len(word_to_id), 4)
    found = most_similar("you", word_to_id, id_to_word, W, top=3)  # the reference prints
    want = [word_to_id[w] for w, _ in found]
    ids, sim = book.most_similar(word_to_id["you"], W, top=3)
    assert ids == want and [s for _, s in found] == sim[want].tolist()  # bit for bit
    t_ids, t_sim = torch_code.most_similar(word_to_id["you"], torch.from_numpy(W), top=3)
    j_ids, j_sim = jax_code.most_similar(word_to_id["you"], jnp.asarray(W), top=3)
    assert t_ids.tolist() == want and np.asarray(j_ids).tolist() == want
    agree("forward", {"similarity": sim}, {"similarity": np.asarray(j_sim)})
    # F.cosine_similarity clamps |x||y| at 1e-8 instead of adding 1e-8 to each norm
    agree("forward", {"similarity": sim}, {"similarity": t_sim.numpy()}, rtol=1e-7)
    assert capsys.readouterr().out.startswith("\n[query] you")


def test_embedding_snippets_agree_with_the_reference(fw):
    book, torch_code, jax_code, torch, jnp = fw
    rng = np.random.RandomState(1)
    W, ids = rng.randn(7, 3), np.array([4, 1, 4, 6, 4, 0])  # id 4 three times
    dout = rng.randn(6, 3)
    ref = Embedding(W.copy())
    out = ref.forward(ids)
    ref.backward(dout)
    layer = book.Embedding(W.copy())
    np.testing.assert_array_equal(layer.forward(ids), out)
    layer.backward(dout)
    np.testing.assert_array_equal(layer.grads[0], ref.grads[0])
    t_out, t_grad = torch_code.embedding(torch.from_numpy(W.copy()), torch.from_numpy(ids),
                                         torch.from_numpy(dout))  # fmt: skip
    j_out, j_grad = jax_code.embedding(jnp.asarray(W), jnp.asarray(ids), jnp.asarray(dout))
    for got_out, got_grad in ((t_out.detach().numpy(), t_grad.numpy()), (j_out, j_grad)):
        agree("forward", {"W[ids]": out}, {"W[ids]": np.asarray(got_out)})
        agree("gradient", {"dW": ref.grads[0]}, {"dW": np.asarray(got_grad)})
    for one_hot in (
        torch_code.one_hot_matmul(torch.from_numpy(W), torch.from_numpy(ids)).detach().numpy(),
        np.asarray(jax_code.one_hot_matmul(jnp.asarray(W), jnp.asarray(ids))),
    ):
        np.testing.assert_array_equal(one_hot, out)  # one_hot @ W picks the rows exactly


def test_shared_weights_snippets_agree_with_the_reference(fw):
    book, torch_code, jax_code, torch, jnp = fw
    corpus, word_to_id, _ = preprocess("You say goodbye and I say hello.")
    V = len(word_to_id)
    contexts, target = create_contexts_target(corpus)
    model = SimpleCBOW(V, 4, rng=np.random.RandomState(2), dtype=np.float64)
    for p in (model.params[0], model.params[2]):
        p *= 100
    W_in, W_out = model.params[0].copy(), model.params[2].copy()
    model.forward(convert_one_hot(contexts, V), target)
    model.backward()
    layer_grads = [g.copy() for g in model.grads]
    params, grads = book.remove_duplicate(list(model.params), [g.copy() for g in layer_grads])
    assert len(params) == 2 and params[0] is model.params[0]
    _, want = remove_duplicate(model.params, model.grads)  # the reference's
    np.testing.assert_array_equal(grads[0], want[0])
    got_t = torch_code.shared_gradient(
        torch.from_numpy(W_in), torch.from_numpy(W_out), torch.from_numpy(contexts),
        torch.from_numpy(target),
    )  # fmt: skip
    got_j = jax_code.shared_gradient(jnp.asarray(W_in), jnp.asarray(W_out), contexts, target)
    for got in (got_t.numpy(), np.asarray(got_j)):
        agree("gradient", {"dW_in": want[0]}, {"dW_in": got})
        assert not np.allclose(got, layer_grads[0])  # one layer's gradient is not the sum


def test_negative_sampling_snippets_agree_with_the_reference(fw, cbow_batch):
    book, torch_code, jax_code, torch, jnp = fw
    corpus, W_out, h, target, negatives = cbow_batch
    sampler = UnigramSampler(corpus, 0.75, 5, rng=np.random.RandomState(3))
    draws = book.get_negative_sample(sampler.word_p, target, 5, np.random.RandomState(3))
    np.testing.assert_array_equal(draws, sampler.get_negative_sample(target))
    layer = NegativeSamplingLoss(W_out.copy(), corpus, rng=np.random.RandomState(0))
    layer.sampler.get_negative_sample = lambda _t: negatives  # the samples as drawn
    want = layer.forward(h, target)
    assert book.negative_sampling_loss(h, W_out, target, negatives) == want
    pos = np.sum(W_out[target] * h, axis=1)  # (N,)
    neg = np.einsum("nkh,nh->nk", W_out[negatives], h)  # (N, 5)
    exact = np.mean(np.logaddexp(0, -pos)) + np.sum(np.mean(np.logaddexp(0, neg), axis=0))
    assert 0 < exact - want < 1e-5  # the book's 1e-7 in each of the 6 logs: below the exact
    args = (h, W_out, target, negatives)
    got_t = torch_code.negative_sampling_loss(*(torch.from_numpy(a) for a in args))
    got_j = jax_code.negative_sampling_loss(*(jnp.asarray(a) for a in args))
    for got in (float(got_t), float(got_j)):
        agree("loss", {"loss": exact}, {"loss": got})

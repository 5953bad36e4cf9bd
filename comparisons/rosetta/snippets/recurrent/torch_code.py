"""The book's chapters 5-6 in idiomatic PyTorch (the Rosetta's
middle column for the recurrent concepts).

What a person writes: `nn.Embedding`, `nn.RNN` / `nn.LSTM`
(batch_first=True), `nn.Linear` tied to the embedding,
`F.cross_entropy`, `nn.Dropout`, the state detached between
batches. Float64, as the reference is compared. The tests run
every function here against the reference (`scratch/`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# ----------------------------------------- RNN (§5.3.1, §5.3.2)


def rnn_layer(xs, Wx, Wh, b, h=None):
    D, H = Wx.shape
    rnn = nn.RNN(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():  # weights stored (out, in)
        rnn.weight_ih_l0.copy_(Wx.T)
        rnn.weight_hh_l0.copy_(Wh.T)
        rnn.bias_ih_l0.copy_(b)
        rnn.bias_hh_l0.zero_()  # a second bias: keep it 0
    rnn.bias_hh_l0.requires_grad_(False)
    # h: (num_layers, N, H); None starts from zeros
    hs, h = rnn(xs, h)  # xs (N, T, D) -> hs (N, T, H)
    return hs, h


# ------------------------------------------------- LSTM (§6.3)


def book_to_torch(w):
    # gate blocks on the last axis: f, g, i, o -> i, f, g, o
    f, g, i, o = w.chunk(4, dim=-1)
    return torch.cat([i, f, g, o], dim=-1)


def lstm_layer(xs, Wx, Wh, b, state=None):
    D, H = Wx.shape[0], Wh.shape[0]
    lstm = nn.LSTM(D, H, batch_first=True,
                   dtype=torch.float64)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(book_to_torch(Wx).T)
        lstm.weight_hh_l0.copy_(book_to_torch(Wh).T)
        lstm.bias_ih_l0.copy_(book_to_torch(b))
        lstm.bias_hh_l0.zero_()
    lstm.bias_hh_l0.requires_grad_(False)
    hs, (h, c) = lstm(xs, state)  # state: (h, c)
    return hs, (h, c)


# ------------------------------ Time Softmax with Loss (§5.4.2)


def time_softmax_loss(scores, ts):
    # scores (N, T, V), ts (N, T): one row per position,
    # mean over all N*T, as TimeSoftmaxWithLoss
    V = scores.shape[-1]
    return F.cross_entropy(scores.reshape(-1, V),
                           ts.reshape(-1))


# ------------------- the model; weight tying (§6.4, §6.5.3)


class BetterRnnlm(nn.Module):
    def __init__(self, V, H, dropout=0.5):
        super().__init__()
        self.embed = nn.Embedding(V, H)
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(H, H, num_layers=2,
                            dropout=dropout,
                            batch_first=True)
        self.fc = nn.Linear(H, V)
        # weight tying: one Parameter. Linear keeps (V, H),
        # the embedding's own layout: no transpose
        self.fc.weight = self.embed.weight

    def forward(self, xs, state=None):
        x = self.drop(self.embed(xs))
        hs, state = self.lstm(x, state)
        return self.fc(self.drop(hs)), state


def tied_gradient(model, xs, ts):
    scores, _ = model(xs)
    time_softmax_loss(scores, ts).backward()
    # one Parameter used twice: its .grad already holds the
    # embedding's gradient plus the output layer's
    return model.embed.weight.grad


@torch.no_grad()
def load_book_weights(model, w):
    # the book's BetterRnnlm weights, by its names
    model.embed.weight.copy_(w["embed_W"])  # also fc's
    model.fc.bias.copy_(w["affine_b"])
    for k in range(2):
        n = str(k + 1)
        ih = getattr(model.lstm, f"weight_ih_l{k}")
        hh = getattr(model.lstm, f"weight_hh_l{k}")
        ih.copy_(book_to_torch(w["lstm_Wx" + n]).T)
        hh.copy_(book_to_torch(w["lstm_Wh" + n]).T)
        getattr(model.lstm, f"bias_ih_l{k}").copy_(
            book_to_torch(w["lstm_b" + n]))
        bias_hh = getattr(model.lstm, f"bias_hh_l{k}")
        bias_hh.zero_()  # both trainable: b moves 2x
        bias_hh.requires_grad_(False)


# --------------------------- truncated BPTT (§5.2.4, §5.5.3)


def train(model, optimizer, batches, max_grad):
    losses, state = [], None
    for xs, ts in batches:  # consecutive blocks of text
        scores, state = model(xs, state)
        loss = time_softmax_loss(scores, ts)
        optimizer.zero_grad()
        loss.backward()
        # the tied weight is one Parameter: counted once
        params = [p for p in model.parameters()
                  if p.requires_grad]
        nn.utils.clip_grad_norm_(params, max_grad)
        optimizer.step()
        # carry the state on, cut from this batch's graph
        state = tuple(s.detach() for s in state)
        losses.append(loss.item())
    return losses


# --------------------------------------- dropout (§6.5.2)


def dropout(x, p):
    drop = nn.Dropout(p)  # its mask: torch's generator
    drop.train()  # .eval() turns it off
    return drop(x)  # kept: x / (1 - p), dropped: 0


def dropout_with_mask(x, mask):
    # the parity runs: the book's own mask, handed in
    return x * mask

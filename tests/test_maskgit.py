"""MaskGIT priors, training masks and iterative decoding (sslts.encoders.maskgit*)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sslts.encoders.maskgit import (
    BidirectionalTransformer,
    EmbeddingPrior,
    IndexPrior,
    dead_codes,
    make_prior,
)
from sslts.encoders.maskgit_schedule import (
    apply_mask,
    cosine_schedule,
    decoding_schedule,
    drop_labels,
    iterative_decode,
    masked_count,
    sample_categorical,
    token_loss,
    training_mask,
)

TINY = dict(hidden_dim=16, n_layers=1, n_heads=2, dim_head=8)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def tiny_index_prior(n_codes=4, n_tokens=6, n_classes=2, seed=0):
    torch.manual_seed(seed)  # tests only: fixes the layers' default initialisation
    return IndexPrior(n_codes, n_tokens, n_classes, codebook=torch.randn(n_codes, 8), **TINY)


# -- schedules ---------------------------------------------------------------------


def test_decoding_schedule_reference_values():
    assert decoding_schedule(40, 10) == [39, 38, 35, 32, 28, 23, 18, 12, 6, 0]


@pytest.mark.parametrize("n_tokens, n_steps", [(40, 10), (45, 10), (75, 10), (5, 10), (30, 4),
                                               (1, 1), (12, 16)])
def test_decoding_schedule_matches_formula(n_tokens, n_steps):
    expected = [int(np.floor(n_tokens * np.cos(np.pi / 2 * (t + 1) / n_steps)))
                for t in range(n_steps)]
    expected[-1] = max(expected[-1], 0)
    got = decoding_schedule(n_tokens, n_steps)
    assert got == expected
    assert got[-1] == 0 and all(a >= b for a, b in zip(got, got[1:]))


def test_decoding_schedule_rejects_bad_sizes():
    with pytest.raises(ValueError, match="n_steps"):
        decoding_schedule(40, 0)


def test_cosine_schedule_float_and_tensor():
    assert cosine_schedule(0.0) == 1.0
    assert abs(cosine_schedule(1.0)) < 1e-12
    r = torch.tensor([0.0, 1 / 3, 0.5])
    assert torch.allclose(cosine_schedule(r), torch.cos(torch.pi / 2 * r))


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.37, 0.5, 0.9, 0.999])
def test_masked_count_conventions(ratio):
    n = 40
    kept = math.floor(n * math.cos(math.pi / 2 * ratio))
    assert masked_count(ratio, n, "reference") == n - kept
    assert masked_count(ratio, n, "reference_embedding") == kept
    ceil = math.ceil(n * math.cos(math.pi / 2 * ratio))
    assert masked_count(ratio, n, "maskgit") == min(max(ceil, 1), n)
    with pytest.raises(ValueError, match="convention"):
        masked_count(ratio, n, "bert")


@pytest.mark.parametrize("convention", ["reference", "reference_embedding", "maskgit"])
def test_training_mask_counts_and_loss_positions(convention):
    for seed in range(5):
        m = training_mask(16, 40, convention, generator=gen(seed))
        n_masked = masked_count(m.ratio, 40, convention)
        assert (m.masked.sum(dim=1) == n_masked).all()
        if convention == "maskgit":
            assert torch.equal(m.counted, m.masked)
        else:
            assert m.counted.all()
    # one ratio per batch, but positions differ between samples
    m = training_mask(64, 40, convention, generator=gen(123))
    if 0 < int(m.masked[0].sum()) < 40:
        assert len({tuple(row.tolist()) for row in m.masked}) > 1


def test_training_mask_reproducible_and_mean_fractions():
    a = training_mask(8, 40, "reference", generator=gen(3))
    b = training_mask(8, 40, "reference", generator=gen(3))
    assert torch.equal(a.masked, b.masked) and a.ratio == b.ratio
    g = gen(0)
    ref = np.mean([training_mask(1, 400, "reference", generator=g).masked.float().mean()
                   for _ in range(3000)])
    emb = np.mean([training_mask(1, 400, "reference_embedding", generator=g).masked.float().mean()
                   for _ in range(3000)])
    assert abs(ref - (1 - 2 / np.pi)) < 0.02  # about 36 % masked
    assert abs(emb - 2 / np.pi) < 0.02  # about 64 % masked


def test_training_mask_positions_uniform():
    g = gen(1)
    hits = torch.zeros(10)
    for _ in range(2000):
        hits += training_mask(1, 10, "maskgit", generator=g).masked[0].float()
    freq = hits / hits.sum()
    assert (freq - 0.1).abs().max() < 0.02


def test_apply_mask_does_not_modify_input():
    tokens = torch.tensor([[1, 2, 3]])
    out = apply_mask(tokens, torch.tensor([[True, False, True]]), 7)
    assert out.tolist() == [[7, 2, 7]] and tokens.tolist() == [[1, 2, 3]]


# -- class dropout ------------------------------------------------------------------


def test_drop_labels_probabilities_and_generator():
    labels = torch.zeros(20000, dtype=torch.long)
    state = torch.random.get_rng_state()
    dropped = drop_labels(labels, null_class=3, p=0.2, generator=gen(0))
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched
    assert set(dropped.unique().tolist()) == {0, 3}
    assert abs(float((dropped == 3).float().mean()) - 0.2) < 0.015
    assert torch.equal(dropped, drop_labels(labels, 3, 0.2, generator=gen(0)))
    assert torch.equal(drop_labels(labels[:5], 3, 0.0, generator=gen(0)), labels[:5])
    assert (drop_labels(labels[:5], 3, 1.0, generator=gen(0)) == 3).all()
    with pytest.raises(ValueError, match="p="):
        drop_labels(labels, 3, 1.5)


# -- the transformer body against a slow re-statement --------------------------------


def slow_body(body: BidirectionalTransformer, x: torch.Tensor) -> torch.Tensor:
    """Explicit loops over heads; RMSNorm written out."""

    def rms(norm, h):
        eps = torch.finfo(h.dtype).eps if norm.eps is None else norm.eps
        return h / torch.sqrt(h.pow(2).mean(-1, keepdim=True) + eps) * norm.weight

    L = x.shape[1]
    pos = body.pos_emb.weight[:L] / math.sqrt(body.pos_emb.weight.shape[1])
    h = x @ body.project_in.weight.T + pos
    for block in body.blocks:
        a = rms(block.norm1, h)
        n_heads = block.attn.n_heads
        q, k, v = (a @ block.attn.qkv.weight.T).chunk(3, dim=-1)
        dh = q.shape[-1] // n_heads
        heads = []
        for i in range(n_heads):
            qi, ki, vi = (t[..., i * dh : (i + 1) * dh] for t in (q, k, v))
            att = torch.softmax(qi @ ki.transpose(1, 2) / math.sqrt(dh), dim=-1)
            heads.append(att @ vi)
        h = h + torch.cat(heads, dim=-1) @ block.attn.out.weight.T
        f = rms(block.norm2, h)
        lin1, lin2 = block.ff[0], block.ff[2]
        h = h + lin2(F.gelu(lin1(f)))
    return body.project_out(rms(body.norm, h))


def test_body_matches_slow_reference_and_is_bidirectional():
    torch.manual_seed(0)
    body = BidirectionalTransformer(8, max_len=7, hidden_dim=16, n_layers=2, n_heads=2, dim_head=8)
    for p in body.parameters():  # non-trivial norm gains too
        p.data += 0.1 * torch.randn_like(p)
    x = torch.randn(3, 7, 8)
    assert torch.allclose(body(x), slow_body(body, x), atol=1e-5)
    y = x.clone()
    y[:, -1] += 1.0
    assert not torch.allclose(body(x)[:, 0], body(y)[:, 0])  # the first position sees the last
    with pytest.raises(ValueError, match="max_len"):
        body(torch.randn(1, 8, 8))


def test_reference_size():
    prior = IndexPrior(32, 40, n_classes=5)
    block = sum(p.numel() for p in prior.body.blocks[0].parameters())
    assert block == 263_168  # about 263 k per block, as in the reference
    total = sum(p.numel() for p in prior.parameters())
    assert 1.05e6 < total < 1.2e6
    assert prior.body.project_in.bias is None and prior.body.project_out.bias is None
    assert prior.body.blocks[0].attn.qkv.bias is None
    assert prior.body.blocks[0].ff[0].out_features == 256  # ff_mult 1
    assert isinstance(prior.body.blocks[0].norm1, nn.RMSNorm)


# -- the priors ----------------------------------------------------------------------


def manual_index_logits(prior: IndexPrior, tokens, class_ids):
    e = prior.norm(prior.token_emb.weight[tokens] + prior.pos_emb.weight)
    c = prior.class_emb.weight[class_ids].unsqueeze(1)
    h = prior.head(prior.body(torch.cat([c, e], dim=1))[:, 1:])
    return h @ prior.token_emb.weight[: prior.n_codes].T + prior.bias[:, : prior.n_codes]


def test_index_prior_tied_logits_and_codebook_init():
    codebook = torch.randn(4, 8)
    torch.manual_seed(0)
    prior = IndexPrior(4, 6, n_classes=2, codebook=codebook, **TINY)
    assert torch.equal(prior.token_emb.weight[:4], codebook)
    assert prior.mask_id == 4 and prior.null_class == 2
    assert prior.bias.shape == (6, 5) and not prior.bias.any()
    tokens = torch.tensor([[0, 1, 4, 4, 2, 3], [4, 4, 4, 4, 4, 4]])
    classes = torch.tensor([0, 2])
    logits = prior(tokens, classes)
    assert logits.shape == (2, 6, 4)
    assert torch.allclose(logits, manual_index_logits(prior, tokens, classes), atol=1e-6)
    codebook[0] += 100.0  # a copy, not a view
    assert not torch.equal(prior.token_emb.weight[:4], codebook)


def test_prior_class_conditioning_and_null_class():
    prior = tiny_index_prior()
    tokens = torch.full((2, 6), prior.mask_id)
    a = prior(tokens, torch.tensor([0, 0]))
    b = prior(tokens, torch.tensor([1, 1]))
    assert not torch.allclose(a, b)
    assert torch.equal(prior(tokens), prior(tokens, torch.full((2,), prior.null_class)))
    with pytest.raises(ValueError, match="positions"):
        prior(torch.zeros(2, 5, dtype=torch.long))


def test_embedding_prior_inputs_are_code_vectors():
    codebook = torch.randn(4, 8)
    torch.manual_seed(0)
    prior = EmbeddingPrior(codebook, 6, n_classes=2, **TINY)
    assert prior.codebook.requires_grad and torch.equal(prior.codebook.detach(), codebook)
    assert isinstance(prior.out, nn.Linear) and prior.out.out_features == 4  # untied head
    all_masked = torch.full((1, 6), prior.mask_id)
    before = prior(all_masked)
    with torch.no_grad():
        prior.codebook[2] += 5.0
    assert torch.equal(prior(all_masked), before)  # masked inputs never read the codebook
    visible = torch.tensor([[2, 4, 4, 4, 4, 4]])
    prior.zero_grad()
    prior(visible).sum().backward()
    assert prior.codebook.grad[2].abs().sum() > 0
    assert prior.codebook.grad[[0, 1, 3]].abs().sum() == 0
    assert prior.mask_emb.grad.abs().sum() > 0
    frozen = EmbeddingPrior(codebook, 6, finetune_codebook=False, **TINY)
    assert not frozen.codebook.requires_grad


def test_make_prior():
    cb = torch.randn(4, 8)
    assert isinstance(make_prior("index", cb, 6, 2, **TINY), IndexPrior)
    assert isinstance(make_prior("embedding", cb, 6, 2, **TINY), EmbeddingPrior)
    with pytest.raises(ValueError, match="Unknown prior"):
        make_prior("pixel", cb, 6)
    with pytest.raises(ValueError, match="codebook must have shape"):
        IndexPrior(5, 6, codebook=cb)
    with pytest.raises(ValueError, match="non-finite"):
        IndexPrior(4, 6, codebook=torch.full((4, 8), float("nan")))


# -- dead codes ----------------------------------------------------------------------


def starved_codebook(n_codes=8, dim=16, dead=(1, 4, 5, 6, 7), seed=0):
    """Live codes of ordinary norm; dead ones pushed out ~1e5 times, as the EMA does."""
    g = torch.Generator().manual_seed(seed)
    cb = torch.randn(n_codes, dim, generator=g)
    cb[list(dead)] *= 0.9 / 1e-5
    return cb


def test_dead_codes_from_usage_and_from_norms():
    usage = torch.tensor([5, 0, 2, 1, 0, 0, 0, 0])
    assert dead_codes(usage).tolist() == (usage == 0).tolist()
    assert dead_codes(usage.numpy() / usage.sum().item()).tolist() == (usage == 0).tolist()
    cb = starved_codebook()  # more than half of the codes dead
    expected = [False, True, False, False, True, True, True, True]
    assert dead_codes(codebook=cb).tolist() == expected
    assert not dead_codes(codebook=torch.randn(8, 16)).any()
    cb_inf = cb.clone()
    cb_inf[0, 0] = float("inf")
    assert dead_codes(codebook=cb_inf)[0]
    with pytest.raises(ValueError, match="exactly one"):
        dead_codes()
    with pytest.raises(ValueError, match="exactly one"):
        dead_codes(usage, cb)
    with pytest.raises(ValueError, match="No code"):
        dead_codes([0, 0])
    with pytest.raises(ValueError, match="non-negative"):
        dead_codes([1, -1])


@pytest.mark.parametrize("kind", ["index", "embedding"])
def test_restricted_prior_never_predicts_dead_codes(kind):
    cb = starved_codebook()
    dead = dead_codes(codebook=cb)
    torch.manual_seed(0)
    prior = make_prior(kind, cb, 6, n_classes=2, **TINY)
    prior.restrict_codes(dead)
    table = prior.token_emb.weight if kind == "index" else prior.codebook
    assert not table[:8][dead].any() and table[:8][~dead].abs().max() < 10
    logits = prior(torch.full((3, 6), prior.mask_id), torch.tensor([0, 1, 2]))
    assert torch.isneginf(logits[..., dead]).all() and torch.isfinite(logits[..., ~dead]).all()
    for w in (1.0, 3.0):  # guidance keeps -inf and creates no NaN
        tokens = iterative_decode(prior, 20, class_ids=1, n_steps=4, guidance_scale=w,
                                  generator=gen(0))
        assert not dead[tokens].any()
    # no gradient reaches the dead rows through the logits
    live = torch.nonzero(~dead).flatten()
    targets = live[torch.randint(len(live), (3, 6), generator=gen(1))]
    prior.zero_grad()
    token_loss(prior(apply_mask(targets, torch.rand(3, 6) < 0.5, prior.mask_id)), targets,
               torch.ones(3, 6, dtype=torch.bool)).backward()
    assert table.grad[:8][dead].abs().sum() == 0
    with pytest.raises(ValueError, match="alive"):
        prior.restrict_codes(torch.ones(8, dtype=torch.bool))


def test_dead_codes_poison_an_unrestricted_tied_prior():
    """The failure the restriction prevents: huge rows take over the tied logits."""
    cb = starved_codebook()
    torch.manual_seed(0)
    prior = IndexPrior(8, 6, codebook=cb, **TINY)
    logits = prior(torch.full((4, 6), prior.mask_id))
    dead = dead_codes(codebook=cb)
    assert logits[..., dead].abs().max() > 1e3 * logits[..., ~dead].abs().max()
    dead_mass = logits.softmax(-1)[..., dead].sum(-1)
    assert (dead_mass > 0.99).float().mean() > 0.5


# -- the loss ------------------------------------------------------------------------


def test_token_loss_matches_loop():
    g = gen(0)
    logits = torch.randn(3, 5, 4, generator=g)
    targets = torch.randint(4, (3, 5), generator=g)
    counted = torch.rand(3, 5, generator=g) < 0.5
    counted[0, 0] = True
    weight = torch.rand(3, 5, generator=g)
    num = den = 0.0
    for b in range(3):
        for i in range(5):
            if counted[b, i]:
                ce = -torch.log_softmax(logits[b, i], 0)[targets[b, i]]
                num, den = num + weight[b, i] * ce, den + weight[b, i]
    assert torch.allclose(token_loss(logits, targets, counted, weight), num / den, atol=1e-6)
    everywhere = F.cross_entropy(logits.reshape(-1, 4), targets.reshape(-1))
    assert torch.allclose(token_loss(logits, targets, torch.ones_like(counted)), everywhere)
    assert token_loss(logits, targets, torch.zeros_like(counted)) == 0


# -- sampling ------------------------------------------------------------------------


def test_sample_categorical_frequencies_and_masked_logits():
    logits = torch.tensor([0.0, 1.0, -torch.inf, 2.0]).expand(40000, 4)
    draws = sample_categorical(logits, generator=gen(0))
    freq = torch.bincount(draws, minlength=4).float() / len(draws)
    assert torch.allclose(freq, torch.softmax(logits[0], 0), atol=0.01)
    assert (draws != 2).all()
    hot = sample_categorical(logits[:5], temperature=0.1, generator=gen(0))
    assert (hot == 3).all()
    assert torch.equal(sample_categorical(logits[:3], 0.0), torch.full((3,), 3))
    assert torch.equal(draws[:100], sample_categorical(logits[:100], generator=gen(0)))


class RecordingPrior(nn.Module):
    """Wraps a prior; records every input and whether autograd was on."""

    def __init__(self, prior):
        super().__init__()
        self.prior = prior
        self.inputs, self.grad_enabled = [], []
        for name in ("n_tokens", "n_codes", "mask_id", "null_class", "n_classes"):
            setattr(self, name, getattr(prior, name))

    def forward(self, tokens, class_ids=None):
        self.inputs.append((tokens.clone(), None if class_ids is None else class_ids.clone()))
        self.grad_enabled.append(torch.is_grad_enabled())
        return self.prior(tokens, class_ids)


def test_iterative_decode_schedule_and_fixed_tokens():
    rec = RecordingPrior(IndexPrior(4, 40, n_classes=2, **TINY))
    out = iterative_decode(rec, 5, n_steps=10, generator=gen(0))
    assert out.shape == (5, 40) and out.dtype == torch.long
    assert ((out >= 0) & (out < 4)).all()
    masked_before = [int((t == rec.mask_id).sum(1).unique().item()) for t, _ in rec.inputs]
    assert masked_before == [40] + decoding_schedule(40, 10)[:-1]
    history = [t for t, _ in rec.inputs] + [out]
    for earlier, later in zip(history, history[1:]):
        fixed = earlier != rec.mask_id
        assert torch.equal(later[fixed], earlier[fixed])  # fixed tokens never change
    assert all(c is None for _, c in rec.inputs)  # unconditional: the null class


def test_iterative_decode_keeps_the_most_confident_tokens():
    class Peaked(nn.Module):
        """Position i predicts code i % K with confidence growing with i."""

        n_tokens, n_codes, mask_id, null_class, n_classes = 8, 4, 4, 0, 0

        def __init__(self):
            super().__init__()
            self.dummy = nn.Parameter(torch.zeros(()))

        def forward(self, tokens, class_ids=None):
            logits = torch.zeros(tokens.shape[0], 8, 4)
            for i in range(8):
                logits[:, i, i % 4] = 1.0 + i
            return logits + self.dummy

    rec = RecordingPrior(Peaked())
    out = iterative_decode(rec, 2, n_steps=4, choice_temperature=0.0, token_temperature=0.0,
                           generator=gen(0))
    assert out[0].tolist() == [i % 4 for i in range(8)]
    first_fixed = rec.inputs[1][0][0] != 4
    n_fixed = 8 - decoding_schedule(8, 4)[0]
    assert first_fixed.nonzero().flatten().tolist() == list(range(8 - n_fixed, 8))


def test_iterative_decode_builds_no_graph_and_restores_mode():
    rec = RecordingPrior(tiny_index_prior())
    rec.train()
    with torch.enable_grad():
        out = iterative_decode(rec, 3, class_ids=torch.tensor([0, 1, 2]), n_steps=3,
                               generator=gen(0))
    assert not out.requires_grad and out.grad_fn is None
    assert rec.grad_enabled and not any(rec.grad_enabled)
    assert all(p.grad is None for p in rec.parameters())
    assert rec.training and rec.prior.training


def test_iterative_decode_reproducible_and_shapes():
    prior = tiny_index_prior()
    a = iterative_decode(prior, 16, n_steps=4, generator=gen(5))
    b = iterative_decode(prior, 16, n_steps=4, generator=gen(5))
    c = iterative_decode(prior, 16, n_steps=4, generator=gen(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    grid = iterative_decode(prior, 4, class_ids=1, n_steps=3, generator=gen(0), token_shape=(2, 3))
    assert grid.shape == (4, 2, 3)
    with pytest.raises(ValueError, match="class_ids must be in"):
        iterative_decode(prior, 2, class_ids=3, generator=gen(0))
    with pytest.raises(ValueError, match="shape"):
        iterative_decode(prior, 2, class_ids=torch.tensor([0, 1, 1]), generator=gen(0))


def test_guidance_passes_and_formula():
    class TwoFaced(nn.Module):
        """Conditional logits favour code 0, null logits code 1."""

        n_tokens, n_codes, mask_id, null_class, n_classes = 5, 3, 3, 1, 1

        def __init__(self):
            super().__init__()
            self.dummy = nn.Parameter(torch.zeros(()))

        def forward(self, tokens, class_ids=None):
            logits = torch.zeros(tokens.shape[0], 5, 3)
            null = class_ids is None or bool((class_ids == 1).all())
            logits[..., 1 if null else 0] = 2.0
            return logits + self.dummy

    rec = RecordingPrior(TwoFaced())
    iterative_decode(rec, 4, class_ids=0, n_steps=5, generator=gen(0))
    assert len(rec.inputs) == 5  # w = 1: the conditional pass only
    rec.inputs.clear()
    out = iterative_decode(rec, 400, class_ids=0, n_steps=5, guidance_scale=3.0,
                           generator=gen(0))
    assert len(rec.inputs) == 10  # w != 1: a null pass per step too
    # guided logits: null + 3 (cond - null) = [6, -4, 0] -> code 0 with p ~ 0.9975
    assert (out == 0).float().mean() > 0.99


def test_priors_learn_class_patterns():
    """End to end: train a tiny prior on two classes of fixed token patterns."""
    patterns = torch.tensor([[0, 1, 0, 1, 0, 1, 0, 1], [2, 3, 2, 3, 2, 3, 2, 3]])
    torch.manual_seed(0)
    for kind, convention in (("index", "maskgit"), ("embedding", "reference_embedding")):
        prior = make_prior(kind, torch.randn(4, 8), 8, n_classes=2, hidden_dim=32,
                           n_layers=1, n_heads=2, dim_head=16)
        opt = torch.optim.AdamW(prior.parameters(), lr=3e-3)
        g = gen(0)
        for _ in range(250):
            labels = torch.randint(2, (32,), generator=g)
            targets = patterns[labels]
            m = training_mask(32, 8, convention, generator=g)
            classes = drop_labels(labels, prior.null_class, 0.2, generator=g)
            loss = token_loss(prior(apply_mask(targets, m.masked, prior.mask_id), classes),
                              targets, m.counted)
            opt.zero_grad()
            loss.backward()
            opt.step()
        for c in (0, 1):
            out = iterative_decode(prior, 50, class_ids=c, generator=gen(c))
            assert (out == patterns[c]).all(dim=1).float().mean() > 0.85, (kind, c)

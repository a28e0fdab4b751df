"""NCVQVAEGenerator: training on sampled tokens, conditioning, dead codes, sampling, errors.

The common suites (test_common, test_faults, test_persistence, test_bad_inputs,
test_callbacks, test_distributed, ...) cover the shared machinery; these tests cover
what is the generator's own, with references that can fail: the training inputs
recorded at the prior's forward, a training set the prior must learn to reproduce, and
the class-conditional samples of two classes whose series differ.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator

import sslts
from sslts import NCVQVAEGenerator, NCVQVAETransformer, TS2VecTransformer
from sslts.encoders.maskgit import EmbeddingPrior, IndexPrior

pytestmark = pytest.mark.filterwarnings("ignore:NCVQVAETransformer. only:UserWarning")

TOKENIZER = dict(output_dims=8, n_codes=8, n_res_blocks=1, projector_dims=16, n_iters=60,
                 batch_size=8, device="cpu", random_state=0)
PRIOR = dict(hidden_dims=16, n_layers=1, n_heads=2, head_dims=8, n_decoding_steps=4,
             device="cpu", random_state=0)


def _two_classes(n=16, length=32, seed=0, offset=10.0):
    """Class 0: a sine above ``offset``; class 1: the mirrored sine below it."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, length)
    y = np.arange(n) % 2
    wave = np.sin(t + rng.uniform(0, 0.3, (n, 1))) + 2
    X = np.where(y[:, None] == 0, wave, -wave) + offset + 0.05 * rng.normal(size=(n, length))
    return X, y


@pytest.fixture(scope="module")
def data():
    return _two_classes()


@pytest.fixture(scope="module")
def tokenizer(data):
    X, _ = data
    return NCVQVAETransformer(**TOKENIZER).fit(X)


@pytest.fixture(scope="module")
def conditional(data, tokenizer):
    X, y = data
    return NCVQVAEGenerator(tokenizer=FrozenEstimator(tokenizer), n_iters=150, lr=1e-2,
                            **PRIOR).fit(X, y)


def _record_forward(prior):
    """Collect (tokens, classes, grad enabled) of every forward of ``prior``."""
    seen = []

    def hook(module, args):
        tokens, classes = args
        seen.append((tokens.clone(), None if classes is None else classes.clone(),
                     torch.is_grad_enabled()))

    return seen, prior.register_forward_pre_hook(hook)


# ------------------------------------------------------------------- training
def test_a_frozen_tokenizer_is_used_as_it_is(data, tokenizer):
    X, y = data
    before = tokenizer.n_iter_
    gen = NCVQVAEGenerator(tokenizer=FrozenEstimator(tokenizer), n_iters=2, **PRIOR).fit(X, y)
    assert gen.tokenizer_ is tokenizer and tokenizer.n_iter_ == before
    assert gen.token_shape_ == tokenizer.token_shape_


def test_an_unfrozen_tokenizer_is_cloned_and_fitted(data):
    X, _ = data
    tok = NCVQVAETransformer(**{**TOKENIZER, "random_state": None, "n_iters": 2})
    gen = NCVQVAEGenerator(tokenizer=tok, n_iters=2, **PRIOR).fit(X)
    assert gen.tokenizer_ is not tok and not hasattr(tok, "module_")
    assert gen.tokenizer_.n_iter_ == 2 and gen.tokenizer_.random_state is not None
    again = NCVQVAEGenerator(tokenizer=tok, n_iters=2, **PRIOR).fit(X)  # seeded from ours
    np.testing.assert_array_equal(again.sample(3, random_state=0), gen.sample(3, random_state=0))


@pytest.mark.parametrize(("ssl", "prior", "expected"), [
    (None, "auto", IndexPrior), ("barlow_twins", "auto", EmbeddingPrior),
    (None, "embedding", EmbeddingPrior), ("vibcreg", "index", IndexPrior)])
def test_auto_pairs_the_prior_with_the_tokenizer_as_the_thesis(data, ssl, prior, expected):
    X, _ = data
    tok = NCVQVAETransformer(**{**TOKENIZER, "ssl": ssl, "n_iters": 2})
    gen = NCVQVAEGenerator(tokenizer=tok, prior=prior, n_iters=1, **PRIOR).fit(X)
    assert isinstance(gen.module_, expected)
    assert gen.prior_type_ == ("index" if expected is IndexPrior else "embedding")


@pytest.mark.parametrize(("prior", "convention", "expected"), [
    ("index", "reference", "reference"), ("embedding", "reference", "reference_embedding"),
    ("index", "maskgit", "maskgit"), ("embedding", "maskgit", "maskgit")])
def test_the_masking_convention_follows_the_prior(data, tokenizer, monkeypatch, prior,
                                                  convention, expected):
    import sslts.generator as module

    used, original = [], module.training_mask
    monkeypatch.setattr(module, "training_mask",
                        lambda *a, **k: used.append(a[2]) or original(*a, **k))
    X, _ = data
    NCVQVAEGenerator(tokenizer=FrozenEstimator(tokenizer), prior=prior,
                     mask_convention=convention, n_iters=2, **PRIOR).fit(X)
    assert used == [expected, expected]


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_labels_reach_the_prior_by_row_and_are_dropped_with_p(data, tokenizer, monkeypatch, p):
    X, y = data
    gen = NCVQVAEGenerator(tokenizer=FrozenEstimator(tokenizer), p_unconditional=p,
                           n_iters=3, batch_size=5, **PRIOR)
    rows, original = [], NCVQVAEGenerator.training_step

    def step(self, module, batch, ctx):
        rows.append(ctx.batch_indices.clone())
        if len(rows) == 1:
            self._seen, self._hook = _record_forward(module)
        return original(self, module, batch, ctx)

    monkeypatch.setattr(NCVQVAEGenerator, "training_step", step)
    gen.fit(X, y)
    gen._hook.remove()
    classes = [c for _, c, _ in gen._seen]
    assert len(classes) == 3
    for index, got in zip(rows, classes):
        expected = y[index.numpy()] if p == 0 else np.full(len(index), 2)  # 2: the null class
        np.testing.assert_array_equal(got.numpy(), expected)


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_training_tokens_are_drawn_at_the_tokenize_temperature(data, tokenizer, temperature):
    X, _ = data
    gen = NCVQVAEGenerator(tokenizer=FrozenEstimator(tokenizer), mask_convention="maskgit",
                           tokenize_temperature=temperature, n_iters=1, batch_size=16, **PRIOR)
    gen.fit(X)
    seen, hook = _record_forward(gen.module_)
    gen.set_params(warm_start=True, n_iters=30).fit(X)
    hook.remove()
    nearest = torch.from_numpy(tokenizer.tokenize(X).reshape(len(X), -1))
    mismatch = []
    for tokens, _, grad in seen:
        visible = tokens != gen.module_.mask_id
        assert grad  # training passes build the graph; sampling's do not (below)
        # rows are shuffled: compare each visible token with the nearest code of its row
        mismatch += [float((tokens[i][visible[i]] != nearest[:, visible[i]]).float()
                           .mean(1).min()) for i in range(len(tokens)) if visible[i].any()]
    assert len(mismatch) > 100
    if temperature == 0:
        assert max(mismatch) == 0.0
    else:
        assert np.mean(mismatch) > 0  # sampled: some visible tokens are not the nearest


def test_dead_codes_are_never_predicted_and_their_rows_are_zero(data):
    X, _ = data
    tok = NCVQVAETransformer(**{**TOKENIZER, "n_codes": 32, "n_iters": 5, "ssl": None})
    gen = NCVQVAEGenerator(tokenizer=tok, prior="index", n_iters=5, **PRIOR).fit(X)
    dead = gen.dead_codes_
    distances = gen.tokenizer_.code_distances(X)
    mass = torch.from_numpy(-distances).softmax(-1).sum(dim=(0, 1, 2)).numpy()
    np.testing.assert_array_equal(dead, mass == 0)  # exactly the codes never drawn
    assert dead.any(), "the test needs a tokenizer with dead codes"
    norms = np.linalg.norm(gen.tokenizer_.codebook_, axis=1)
    far = norms > 1e3 * norms[~dead].max()  # the EMA's far-away codes, and maybe others
    assert far.any() and dead[far].all()
    assert torch.equal(gen.module_.allowed_codes, torch.from_numpy(~dead))
    rows = gen.module_.token_emb.weight.detach()[: len(dead)][torch.from_numpy(dead)]
    assert float(rows.abs().max()) == 0
    tokens = gen.sample_tokens(64, random_state=0)
    assert not np.isin(tokens, np.flatnonzero(dead)).any()
    with torch.no_grad():
        logits = gen.module_(torch.full((2, gen.module_.n_tokens), gen.module_.mask_id))
    assert torch.isinf(logits[..., torch.from_numpy(dead)]).all()
    assert torch.isfinite(logits[..., torch.from_numpy(~dead)]).all()


def test_the_prior_learns_to_reproduce_a_training_set_of_one_pattern():
    X = np.tile(np.sin(np.linspace(0, 4 * np.pi, 32)), (8, 1)) * 3 + 1
    tok = NCVQVAETransformer(**{**TOKENIZER, "ssl": None, "n_iters": 5}).fit(X)
    gen = NCVQVAEGenerator(tokenizer=FrozenEstimator(tok), tokenize_temperature=0.0,
                           n_iters=150, lr=3e-2, **PRIOR).fit(X)
    target = tok.tokenize(X[:1])
    tokens = gen.sample_tokens(20, random_state=0)
    assert (tokens == target).mean() >= 0.98
    assert (tokens == target).all(axis=(1, 2)).mean() >= 0.8
    assert gen.loss_history_[-1] < 0.01 * gen.loss_history_[0]


def test_class_conditional_samples_look_like_their_class(data, conditional):
    X, y = data
    means = np.stack([X[y == c].mean(0) for c in (0, 1)])  # (2, T)
    for c in (0, 1):
        samples = conditional.sample(20, y=c, random_state=c)[:, :, 0]
        nearest = ((samples[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)
        assert (nearest == c).mean() >= 0.8, c
    mixed = conditional.sample(40, random_state=0)[:, :, 0]  # unconditional: both classes
    share = ((mixed[:, None, :] - means[None]) ** 2).sum(-1).argmin(1).mean()
    assert 0.05 <= share <= 0.95


# ------------------------------------------------------------------- sampling
def test_samples_are_series_of_the_training_shape_units_and_layout(data, conditional):
    X, _ = data
    S = conditional.sample(7, random_state=0)
    assert S.shape == (7, 32, 1) and S.dtype == np.float32 and np.isfinite(S).all()
    assert abs(float(S.mean()) - 10.0) < 1.5  # the training data's units (offset 10)
    tokens = conditional.sample_tokens(7, random_state=0)
    assert tokens.shape == (7, *conditional.token_shape_) and tokens.dtype == np.int64
    np.testing.assert_array_equal(conditional.tokenizer_.decode_tokens(tokens), S)


def test_channels_first_and_multichannel(data):
    X, _ = data
    X3 = np.stack([X, -X], axis=1)  # (n, 2, T): channels first
    tok = NCVQVAETransformer(**{**TOKENIZER, "n_iters": 2})
    gen = NCVQVAEGenerator(tokenizer=tok, input_layout="channels_first", n_iters=2,
                           **PRIOR).fit(X3)
    assert gen.sample(3, random_state=0).shape == (3, 2, 32)
    # a frozen channels-first tokenizer under a channels-last generator
    frozen = FrozenEstimator(gen.tokenizer_.set_params(input_layout="channels_first"))
    gen.tokenizer_.input_layout_ = "channels_first"
    last = NCVQVAEGenerator(tokenizer=frozen, n_iters=2, **PRIOR).fit(X3.transpose(0, 2, 1))
    assert last.sample(3, random_state=0).shape == (3, 32, 2)


def test_seeded_sampling_repeats_and_batches_of_256_do_not_change_it(conditional):
    a = conditional.sample_tokens(300, random_state=5)
    np.testing.assert_array_equal(a, conditional.sample_tokens(300, random_state=5))
    np.testing.assert_array_equal(a[:256], conditional.sample_tokens(256, random_state=5))
    assert not np.array_equal(a, conditional.sample_tokens(300, random_state=6))
    rng = np.random.RandomState(5)
    np.testing.assert_array_equal(conditional.sample_tokens(4, random_state=rng)[0],
                                  conditional.sample_tokens(4, random_state=5)[0])


def test_labels_per_sample_follow_their_class(conditional):
    both = conditional.sample_tokens(4, y=[0, 1, 0, 1], random_state=0)
    assert both.shape == (4, *conditional.token_shape_)
    np.testing.assert_array_equal(conditional.sample_tokens(3, y=np.array([1, 1, 1]),
                                                            random_state=2),
                                  conditional.sample_tokens(3, y=1, random_state=2))


def test_sampling_never_builds_the_autograd_graph(conditional):
    seen, hook = _record_forward(conditional.module_)
    with torch.enable_grad():
        conditional.sample(3, y=1, random_state=0)
        conditional.sample_tokens(3, random_state=0)
    hook.remove()
    assert seen and not any(grad for _, _, grad in seen)


def test_clone_pickle_and_save_keep_the_samples(data, conditional, tmp_path):
    X, y = data
    expected = conditional.sample(5, y=1, random_state=3)
    copy = pickle.loads(pickle.dumps(conditional))
    np.testing.assert_array_equal(copy.sample(5, y=1, random_state=3), expected)
    conditional.save(tmp_path / "gen.pt")
    loaded = sslts.load(tmp_path / "gen.pt")
    np.testing.assert_array_equal(loaded.sample(5, y=1, random_state=3), expected)
    assert isinstance(loaded.tokenizer, FrozenEstimator)
    np.testing.assert_array_equal(loaded.classes_, conditional.classes_)
    refit = clone(conditional).fit(X, y)
    np.testing.assert_array_equal(refit.sample(5, y=1, random_state=3), expected)


def test_string_labels(data, tokenizer):
    X, y = data
    names = np.where(y == 0, "slow", "fast")
    gen = NCVQVAEGenerator(tokenizer=FrozenEstimator(tokenizer), n_iters=2, **PRIOR)
    gen.fit(X, names)
    assert gen.classes_.tolist() == ["fast", "slow"]
    assert gen.sample(2, y="slow", random_state=0).shape == (2, 32, 1)


# --------------------------------------------------------------------- errors
def test_sampling_errors_are_clear(data, tokenizer, conditional):
    X, _ = data
    unconditional = NCVQVAEGenerator(tokenizer=FrozenEstimator(tokenizer), n_iters=1,
                                     **PRIOR).fit(X)
    assert unconditional.classes_ is None
    with pytest.raises(ValueError, match="fitted without labels"):
        unconditional.sample(2, y=0)
    with pytest.raises(ValueError, match=r"Unknown classes \[7\].*\[0, 1\]"):
        conditional.sample(2, y=7)
    with pytest.raises(ValueError, match="n_samples=3 labels"):
        conditional.sample(3, y=[0, 1])
    for bad in (0, -1, True, 2.5, "3", None):
        with pytest.raises(ValueError, match="n_samples=.* must be an integer >= 1"):
            conditional.sample(bad)
    with pytest.raises(NotFittedError):
        NCVQVAEGenerator().sample(1)


def test_a_tokenizer_that_is_not_an_ncvqvae_is_refused(data):
    X, _ = data
    with pytest.raises(ValueError, match="'tokenizer' parameter"):
        NCVQVAEGenerator(tokenizer=TS2VecTransformer(), **PRIOR).fit(X)
    ts2vec = TS2VecTransformer(output_dims=4, hidden_dims=4, depth=1, n_iters=1,
                               device="cpu").fit(X)
    with pytest.raises(TypeError, match=r"got FrozenEstimator\(TS2VecTransformer\)"):
        NCVQVAEGenerator(tokenizer=FrozenEstimator(ts2vec), **PRIOR).fit(X)


def test_fit_errors_are_clear(data, tokenizer, conditional):
    X, y = data
    frozen = FrozenEstimator(tokenizer)
    with pytest.raises(ValueError, match="32 steps and 1 channels; X has 20 and 1"):
        NCVQVAEGenerator(tokenizer=frozen, **PRIOR).fit(X[:, :20])
    with pytest.raises(ValueError, match="y has 3 labels for 16 training series"):
        NCVQVAEGenerator(tokenizer=frozen, **PRIOR).fit(X, y[:3])
    with pytest.raises(ValueError, match="Unknown label type"):
        NCVQVAEGenerator(tokenizer=frozen, **PRIOR).fit(X, np.linspace(0, 1, 16))
    warm = clone(conditional).set_params(n_iters=1).fit(X, y).set_params(warm_start=True)
    with pytest.raises(ValueError, match="same classes"):
        warm.fit(X)
    with pytest.raises(ValueError, match="warm_start=True continues the fitted network"):
        warm.set_params(hidden_dims=8).fit(X, y)


def test_a_warm_start_continues_the_prior(data, conditional):
    X, y = data
    est = clone(conditional).set_params(n_iters=2).fit(X, y)
    est.set_params(warm_start=True, n_iters=3).fit(X, y)
    assert est.n_iter_ == 5 and est.tokenizer_ is conditional.tokenizer_


def test_the_generation_metrics_are_exported_and_score_a_generator(data, conditional):
    from sslts.evaluation import FCNClassifier, evaluate_generation

    X, y = data
    fcn = FCNClassifier(n_filters=(8, 8, 8), n_epochs=5, batch_size=8, random_state=0)
    result = evaluate_generation(conditional, X, y, X, y, classifier=fcn, n_samples=32,
                                 min_synthetic=40, random_state=0)
    assert result["n_generated"] == 32 and result["n_synthetic"] == 40
    assert np.isfinite(result["fid"]) and 1.0 <= result["is_mean"] <= 2.0
    assert 0.0 <= result["cas"] <= 1.0

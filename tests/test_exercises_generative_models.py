"""Chapter 1 checks: the library's reference passes; typical wrong answers get their message.

The tables below list typical wrong answers of each code exercise and a fragment of the
message each must produce. (The notebook's own reference solutions are run by
``test_exercises.py``.)
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from exercise_mutants import generator_mutants, is_specific, output_mutants, rejection, rejections

from genmodels.exercises import generative_models
from genmodels.toy import IsotropicMixture2D

# --- Exercise 1.1: mixture_log_density ------------------------------------------------


def _log_comp(x, c, var, log_norm):
    return -((x[:, None, :] - c[None].to(x)) ** 2).sum(-1) / (2 * var) - log_norm


def _right_log_comp(x, c, s):
    return _log_comp(x, c, s**2, math.log(2 * math.pi * s**2))


def _lse_mean(a):
    return torch.logsumexp(a, 1) - math.log(a.shape[1])


LOG_DENSITY_WRONG = {
    "std used as variance": (
        lambda x, c, s: _lse_mean(_log_comp(x, c, s, math.log(2 * math.pi * s))),
        "standard deviation was used where the variance belongs",
    ),
    "no -log K": (
        lambda x, c, s: torch.logsumexp(_right_log_comp(x, c, s), 1),
        "mixing weights 1/K are missing",
    ),
    "log of sum of exp (underflow)": (
        lambda x, c, s: torch.log(_right_log_comp(x, c, s).exp().mean(1)),
        "log of a sum of exponentials underflows",
    ),
    "mean of log-components": (
        lambda x, c, s: _right_log_comp(x, c, s).mean(1),
        "averaged the components' log-densities",
    ),
    "missing 1/2 in the exponent": (
        lambda x, c, s: _lse_mean(_log_comp(x, c, s**2 / 2, math.log(2 * math.pi * s**2))),
        "factor 1/2 in the exponent is missing",
    ),
    "1-D normalising constant": (
        lambda x, c, s: _lse_mean(_log_comp(x, c, s**2, 0.5 * math.log(2 * math.pi * s**2))),
        "normalising constant of a 1-D Gaussian",
    ),
    "no normalising constant": (
        lambda x, c, s: _lse_mean(_log_comp(x, c, s**2, 0.0)),
        "normalising constant 1/(2π s²) is missing",
    ),
    "missing 2 pi": (
        lambda x, c, s: _lse_mean(_log_comp(x, c, s**2, math.log(s**2))),
        "the 2π of the normalising constant",
    ),
    "density instead of log-density": (
        lambda x, c, s: _lse_mean(_right_log_comp(x, c, s)).exp(),
        "you returned p(x)",
    ),
    "no reduction over components": (
        lambda x, c, s: _right_log_comp(x, c, s) - math.log(c.shape[0]),
        "you did not reduce over the K components",
    ),
    "float64 result": (
        lambda x, c, s: IsotropicMixture2D(c.double(), s).log_prob(x.double()),
        "wrong dtype: expected torch.float32",
    ),
    "sign flipped": (
        lambda x, c, s: -IsotropicMixture2D(c, s).log_prob(x),
        "sign error",
    ),
}


def test_mixture_log_density_reference_passes(capsys):
    generative_models.check_mixture_log_density(lambda x, c, s: IsotropicMixture2D(c, s).log_prob(x))
    assert "✔ Exercise 1.1 (mixture_log_density): correct" in capsys.readouterr().out


def _require_messages(check, table, prefix):
    """Each wrong answer of ``table`` (name -> (answer, fragment)) is rejected with a message
    containing its fragment (a regular expression); at least 8 in 10 messages are specific."""
    messages = []
    for name, (answer, fragment) in table.items():
        message = rejection(check, answer)
        assert message.startswith(prefix), f"{name}: {message}"
        assert re.search(fragment, message), f"{name}: {message}"
        messages.append(message)
    generic = [m for m in messages if not is_specific(m)]
    assert len(generic) <= 0.2 * len(messages), generic


LOG_DENSITY_MORE_WRONG = {
    "float64 exp then log (still underflows)": (
        lambda x, c, s: torch.log(_right_log_comp(x.double(), c.double(), s).exp().mean(1)).to(x.dtype),
        r"underflows|-inf"),
    "NaN far away": (lambda x, c, s: torch.where(x.abs().amax(1) > 20, math.nan, IsotropicMixture2D(c, s).log_prob(x)),
                     r"contains NaN"),
    "K from the points": (lambda x, c, s: torch.logsumexp(_right_log_comp(x, c, s), 1) - math.log(x.shape[0]),
                          r"off by a constant|wrong values"),
}


def test_mixture_log_density_wrong_answers():
    _require_messages(generative_models.check_mixture_log_density,
                      {**{k: (a, re.escape(f)) for k, (a, f) in LOG_DENSITY_WRONG.items()}, **LOG_DENSITY_MORE_WRONG},
                      "Exercise 1.1 (mixture_log_density)")


def log_density_distributions(x, c, s):
    mix = torch.distributions.Categorical(logits=torch.zeros(c.shape[0], dtype=x.dtype))
    comp = torch.distributions.Independent(torch.distributions.Normal(c.to(x), s), 1)
    return torch.distributions.MixtureSameFamily(mix, comp).log_prob(x)


def log_density_loop(x, c, s):
    total = torch.full((x.shape[0],), -math.inf, dtype=x.dtype)
    for k in range(c.shape[0]):
        a = -((x - c[k]) ** 2).sum(1) / (2 * s * s) - math.log(2 * math.pi) - 2 * math.log(s)
        total = torch.logaddexp(total, a)
    return total - math.log(c.shape[0])


@pytest.mark.parametrize("answer", [log_density_distributions, log_density_loop], ids=["distributions", "loop"])
def test_mixture_log_density_correct_variants(answer, capsys):
    generative_models.check_mixture_log_density(answer)
    assert "correct" in capsys.readouterr().out


# --- Exercise 1.2: sample_mixture -------------------------------------------------------


def _sample(n, c, s, g, *, index=None, noise=None):
    k = torch.randint(c.shape[0], (n,), generator=g) if index is None else index(n, c, g)
    eps = torch.randn(n, 2, generator=g, dtype=c.dtype) if noise is None else noise(n, g)
    return c[k] + s * eps


SAMPLE_WRONG = {
    "global random state": (
        lambda n, c, s, g: c[torch.randint(c.shape[0], (n,))] + s * torch.randn(n, 2),
        "draws from the global random state",
    ),
    "randint upper bound K - 1": (
        lambda n, c, s, g: _sample(n, c, s, g, index=lambda n, c, g: torch.randint(c.shape[0] - 1, (n,), generator=g)),
        "the last component (index 7) is never sampled",
    ),
    "one component for the whole batch": (
        lambda n, c, s, g: _sample(n, c, s, g, index=lambda n, c, g: torch.randint(c.shape[0], (1,), generator=g).expand(n)),
        "all samples come from one component",
    ),
    "non-uniform components": (
        lambda n, c, s, g: _sample(
            n, c, s, g, index=lambda n, c, g: torch.multinomial(torch.arange(1.0, 9.0), n, True, generator=g)
        ),
        "too uneven to be random draws",
    ),
    "noise scaled by the variance": (lambda n, c, s, g: _sample(n, c, s**2, g), "scaled by the variance"),
    "noise not scaled": (lambda n, c, s, g: _sample(n, c, 1.0, g), "the noise is not scaled"),
    "no noise": (lambda n, c, s, g: _sample(n, c, 0.0, g), "there is no noise"),
    "same noise in both coordinates": (
        lambda n, c, s, g: _sample(n, c, s, g, noise=lambda n, g: torch.randn(n, 1, generator=g)),
        "correlated",
    ),
    "centres forgotten": (lambda n, c, s, g: s * torch.randn(n, 2, generator=g), "far from every centre"),
    "returns (samples, modes)": (lambda n, c, s, g: (_sample(n, c, s, g), None), "expected a torch.Tensor, got tuple"),
    "transposed": (lambda n, c, s, g: _sample(n, c, s, g).T, "the result is transposed"),
    "float64 samples": (lambda n, c, s, g: _sample(n, c.double(), s, g), "wrong dtype"),
}


def test_sample_mixture_reference_passes(capsys):
    generative_models.check_sample_mixture(lambda n, c, s, g: IsotropicMixture2D(c, s).sample(n, generator=g))
    assert "✔ Exercise 1.2 (sample_mixture): correct" in capsys.readouterr().out


def _balanced(n, c, g):
    return torch.arange(n) % c.shape[0]


def _numpy_global(n, c, g):
    return torch.from_numpy(np.random.randint(c.shape[0], size=n))  # noqa: NPY002 (the mistake)


SAMPLE_MORE_WRONG = {
    "a fixed seed inside": (lambda n, c, s, g: _sample(n, c, s, torch.Generator().manual_seed(0)),
                            r"ignores its `generator` argument"),
    "torch.manual_seed inside": (
        lambda n, c, s, g: (torch.manual_seed(0), c[torch.randint(c.shape[0], (n,))] + s * torch.randn(n, 2, dtype=c.dtype))[1],
        r"ignores its `generator` argument"),
    "numpy's global state": (lambda n, c, s, g: _sample(n, c, s, g, index=_numpy_global), r"global random state"),
    "components in turn (perfectly balanced)": (lambda n, c, s, g: _sample(n, c, s, g, index=_balanced), r"too regular"),
    "balanced, then shuffled": (
        lambda n, c, s, g: _sample(n, c, s, g, index=lambda n, c, g: _balanced(n, c, g)[torch.randperm(n, generator=g)]),
        r"too regular"),
    "uniform noise of the right variance": (
        lambda n, c, s, g: _sample(n, c, s, g, noise=lambda n, g: (torch.rand(n, 2, generator=g, dtype=c.dtype) - 0.5) * math.sqrt(12)),
        r"not Gaussian"),
    "one noise vector for all samples": (
        lambda n, c, s, g: _sample(n, c, s, g, noise=lambda n, g: torch.randn(1, 2, generator=g, dtype=c.dtype).expand(n, 2)),
        r"the noise repeats"),
    "noise mean 0.5 s": (lambda n, c, s, g: _sample(n, c, s, g) + 0.5 * s, r"not centred"),
    "NaN for one component": (lambda n, c, s, g: _sample(n, c, s, g) * (math.nan if c.shape[0] == 3 else 1.0),
                              r"NaN or inf"),
}


def test_sample_mixture_wrong_answers():
    _require_messages(generative_models.check_sample_mixture,
                      {**{k: (a, re.escape(f)) for k, (a, f) in SAMPLE_WRONG.items()}, **SAMPLE_MORE_WRONG},
                      "Exercise 1.2 (sample_mixture)")


def sample_multinomial(n, c, s, g):
    k = torch.multinomial(torch.ones(c.shape[0]), n, replacement=True, generator=g)
    return torch.normal(c[k], s, generator=g)


def sample_noise_first(n, c, s, g):
    eps = torch.randn(n, 2, generator=g, dtype=torch.float64).to(c.dtype)
    k = (torch.rand(n, generator=g) * c.shape[0]).long()
    return eps * s + c[k]


@pytest.mark.parametrize("answer", [sample_multinomial, sample_noise_first], ids=["multinomial+normal", "noise first"])
def test_sample_mixture_correct_variants(answer, capsys):
    generative_models.check_sample_mixture(answer)
    assert "correct" in capsys.readouterr().out


def test_sample_mixture_check_restores_global_random_state():
    state = torch.get_rng_state()
    generative_models.check_sample_mixture(lambda n, c, s, g: IsotropicMixture2D(c, s).sample(n, generator=g))
    assert torch.equal(torch.get_rng_state(), state)


# --- Exercise 1.3: average_log_likelihood ----------------------------------------------

AVERAGE_LL_WRONG = {
    "sum over points": (lambda m, x: m.log_prob(x).sum(), "you summed the log-likelihoods"),
    "negative log-likelihood": (lambda m, x: -m.log_prob(x).mean(), "negative log-likelihood"),
    "log of the mean density": (lambda m, x: m.log_prob(x).exp().mean().log(), "log of the average density"),
    "bits": (lambda m, x: m.log_prob(x).mean() / math.log(2), "bits"),
    "per coordinate": (lambda m, x: m.log_prob(x).mean() / 2, "divided by the dimension D = 2"),
    "one value per point": (lambda m, x: m.log_prob(x), "return a single number"),
    "median": (lambda m, x: m.log_prob(x).median(), "wrong values"),
}


def test_average_log_likelihood_reference_passes(capsys):
    generative_models.check_average_log_likelihood(lambda m, x: float(m.log_prob(x).double().mean()))
    assert "✔ Exercise 1.3 (average_log_likelihood): correct" in capsys.readouterr().out


AVERAGE_LL_MORE_WRONG = {
    "log-likelihood of the mean point": (lambda m, x: m.log_prob(x.mean(0, keepdim=True))[0], r"log p\(x̄\)"),
    "divided by n - 1": (lambda m, x: m.log_prob(x).sum() / max(x.shape[0] - 1, 1), r"n − 1"),
    "first point only": (lambda m, x: m.log_prob(x)[0], r"where the number of points n is large"),
    "maximum": (lambda m, x: m.log_prob(x).max(), r"within the range|where the number of points n is large"),
    "NaN": (lambda m, x: m.log_prob(x).mean() * math.nan, r"contains NaN"),
    "log of 1 + p": (lambda m, x: torch.log1p(m.log_prob(x).exp()).mean(), r"lies between the smallest and the largest"),
}


def test_average_log_likelihood_wrong_answers():
    _require_messages(generative_models.check_average_log_likelihood,
                      {**{k: (a, re.escape(f)) for k, (a, f) in AVERAGE_LL_WRONG.items()}, **AVERAGE_LL_MORE_WRONG},
                      "Exercise 1.3 (average_log_likelihood)")


def average_loop(m, x):
    values = m.log_prob(x)
    return sum(float(v) for v in values) / len(values)


def average_float32(m, x):
    return m.log_prob(x).float().sum() / x.shape[0]


@pytest.mark.parametrize("answer", [average_loop, average_float32], ids=["loop", "float32 sum"])
def test_average_log_likelihood_correct_variants(answer, capsys):
    generative_models.check_average_log_likelihood(answer)
    assert "correct" in capsys.readouterr().out


# --- mechanical mutants of the references: all rejected, most with a specific message -----

def _ref_log_density(x, c, s):
    return IsotropicMixture2D(c, s).log_prob(x)


def _ref_sample(n, c, s, generator):
    return IsotropicMixture2D(c, s).sample(n, generator=generator)


def _positional(mutant):
    return lambda *args: mutant(*args[:-1], generator=args[-1])


SHAPE_AND_VALUE = ("scaled by 1.01", "negated", "doubled", "shifted by 0.01", "first value perturbed",
                   "last value perturbed", "one value NaN", "transposed", "a Python float")
MUTANTS = {
    "1.1 mixture_log_density": (generative_models.check_mixture_log_density,
                                output_mutants(_ref_log_density, only=SHAPE_AND_VALUE)),
    "1.2 sample_mixture": (generative_models.check_sample_mixture, {
        **output_mutants(_ref_sample, only=SHAPE_AND_VALUE),
        **{k: _positional(m) for k, m in generator_mutants(_ref_sample).items()}}),
    "1.3 average_log_likelihood": (generative_models.check_average_log_likelihood, output_mutants(
        lambda m, x: m.log_prob(x).mean(),
        only=("scaled by 1.01", "negated", "doubled", "shifted by 0.01", "one value NaN"))),
}


@pytest.mark.parametrize("exercise", MUTANTS, ids=MUTANTS.keys())
def test_mechanical_mutants_are_rejected(exercise):
    check, mutants = MUTANTS[exercise]
    messages = rejections(check, mutants)
    generic = [m for m in messages.values() if not is_specific(m)]
    assert len(generic) <= 0.2 * len(messages), messages

"""Chapter 1 checks: the library's reference passes; typical wrong answers get their message.

The tables below list typical wrong answers of each code exercise and a fragment of the
message each must produce. (The notebook's own reference solutions are run by
``test_exercises.py``.)
"""

from __future__ import annotations

import math

import pytest
import torch

from genmodels.exercises import ExerciseError, generative_models
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


@pytest.mark.parametrize("wrong, fragment", LOG_DENSITY_WRONG.values(), ids=LOG_DENSITY_WRONG.keys())
def test_mixture_log_density_wrong_answers(wrong, fragment):
    with pytest.raises(ExerciseError, match=r"^Exercise 1\.1 \(mixture_log_density\)") as err:
        generative_models.check_mixture_log_density(wrong)
    assert fragment in str(err.value)


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


@pytest.mark.parametrize("wrong, fragment", SAMPLE_WRONG.values(), ids=SAMPLE_WRONG.keys())
def test_sample_mixture_wrong_answers(wrong, fragment):
    with pytest.raises(ExerciseError, match=r"^Exercise 1\.2 \(sample_mixture\)") as err:
        generative_models.check_sample_mixture(wrong)
    assert fragment in str(err.value)


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


@pytest.mark.parametrize("wrong, fragment", AVERAGE_LL_WRONG.values(), ids=AVERAGE_LL_WRONG.keys())
def test_average_log_likelihood_wrong_answers(wrong, fragment):
    with pytest.raises(ExerciseError, match=r"^Exercise 1\.3 \(average_log_likelihood\)") as err:
        generative_models.check_average_log_likelihood(wrong)
    assert fragment in str(err.value)

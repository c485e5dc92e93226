"""Chapter 3's exercise checks: reference answers pass, stubs are "not attempted", and
typical wrong answers are rejected with the message meant for them."""

from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F
from exercise_mutants import generator_mutants, is_specific, output_mutants, rejection, rejections

from genmodels.exercises import gibbs_sampling

# --- reference answers (written independently of the library) -------------------------


def sweep_right(x, y, rho, generator):
    s = math.sqrt(1 - rho**2)
    x_new = rho * y + s * torch.randn(x.shape, generator=generator, dtype=x.dtype)
    y_new = rho * x_new + s * torch.randn(y.shape, generator=generator, dtype=y.dtype)
    return x_new, y_new


def lag1_right(x):
    c = x - x.mean()
    return (c[1:] * c[:-1]).sum() / (c * c).sum()


def free_energy_right(v, W, b, c):
    return -(v @ b) - F.softplus(v @ W + c).sum(1)


def stub(*args):
    raise NotImplementedError("Exercise 3.k: not attempted yet")


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (gibbs_sampling.check_gibbs_sweep, sweep_right),
        (gibbs_sampling.check_lag1_autocorrelation, lag1_right),
        (gibbs_sampling.check_rbm_free_energy, free_energy_right),
    ],
)
def test_right_answers_pass_and_stubs_are_not_attempted(check, answer, capsys):
    check(answer)
    assert "correct" in capsys.readouterr().out
    check(stub)
    assert "not attempted yet" in capsys.readouterr().out


# --- wrong answers -----------------------------------------------------------------------


def _require_messages(check, table, names=None):
    """Each (answer, pattern) of ``table`` is rejected with a message matching ``pattern``;
    at least 8 in 10 of the messages are specific (not the generic fallback)."""
    messages = []
    for k, (answer, pattern) in enumerate(table):
        message = rejection(check, answer)
        label = names[k] if names else k
        assert re.search(pattern, message), f"{label}: {message}"
        messages.append(message)
    generic = [m for m in messages if not is_specific(m)]
    assert len(generic) <= 0.2 * len(messages), generic


def _sweep(x_mean, x_scale, y_given="new", y_scale=None, use_global=False):
    def sweep(x, y, rho, generator):
        g = None if use_global else generator
        s = x_scale(rho)
        x_new = x_mean(x, y, rho) + s * torch.randn(x.shape, generator=g, dtype=x.dtype)
        cond = x_new if y_given == "new" else x
        s_y = (y_scale or x_scale)(rho)
        y_new = rho * cond + s_y * torch.randn(y.shape, generator=g, dtype=y.dtype)
        return x_new, y_new

    return sweep


def _std(rho):
    return math.sqrt(1 - rho**2)


SWEEP_WRONG = [
    (_sweep(lambda x, y, r: r * x, _std), r"centred at ρ·y"),
    (_sweep(lambda x, y, r: y, _std), r"factor ρ is missing"),
    (_sweep(lambda x, y, r: r * y, lambda r: 1 - r**2), r"conditional variance 1 − ρ²"),
    (_sweep(lambda x, y, r: r * y, lambda r: 1.0), r"marginal one"),
    (_sweep(lambda x, y, r: r * y, _std, y_given="old"), r"\*new\* x"),
    (_sweep(lambda x, y, r: r * y, _std, y_scale=lambda r: 1 - r**2), r"noise of y"),
    (_sweep(lambda x, y, r: r * y, _std, use_global=True), r"generator=generator"),
    (lambda x, y, rho, g: rho * y, r"pair"),
]




LAG1_WRONG = [
    (lambda x: (x[1:] * x[:-1]).sum() / (x * x).sum(), r"not centred"),
    (lambda x: torch.corrcoef(torch.stack([x[:-1], x[1:]]))[0, 1], r"\[two values, n = 2\]: your result contains NaN"),
    (lambda x: ((x - x.mean())[1:] * (x - x.mean())[:-1]).sum() / len(x), r"autocovariance"),
    (
        lambda x: ((x - x.mean())[1:] * (x - x.mean())[:-1]).mean() / (x - x.mean()).pow(2).mean(),
        r"n − 1",
    ),
    (lambda x: ((x - x.mean())[1:] * (x - x.mean())[:-1]) / (x - x.mean()).pow(2).sum(), r"wrong shape"),
]




FREE_ENERGY_WRONG = [
    (lambda v, W, b, c: -(v @ b) - (v @ W + c).sum(1), r"softplus is missing"),
    (lambda v, W, b, c: -F.softplus(v @ W + c).sum(1), r"visible-bias"),
    (lambda v, W, b, c: -(v @ b) - F.softplus(v @ W + c).mean(1), r"averaged over the hidden"),
    (lambda v, W, b, c: -(v @ b) - F.softplus(v @ W).sum(1), r"hidden bias c is missing"),
    (lambda v, W, b, c: (v @ b) + F.softplus(v @ W + c).sum(1), r"sign error"),
    (lambda v, W, b, c: -(v @ b) - torch.log(1 + torch.exp(v @ W + c)).sum(1), r"overflows"),
    (lambda v, W, b, c: -(v @ b) - F.softplus(v @ W + c).sum(), r"whole batch"),
    (lambda v, W, b, c: -(v @ b)[:, None] - F.softplus(v @ W + c), r"wrong shape"),
]




# --- correct answers written differently (must pass) -------------------------------------


def sweep_normal(x, y, rho, generator):
    s = math.sqrt(1 - rho**2)
    x_new = torch.normal(rho * y, s, generator=generator)
    return x_new, torch.normal(rho * x_new, s, generator=generator)


def sweep_noise_at_once(x, y, rho, generator):
    eps = torch.randn(2, x.shape[0], generator=generator, dtype=x.dtype)
    x_new = rho * y + (1 - rho * rho) ** 0.5 * eps[0]
    return x_new, rho * x_new + (1 - rho * rho) ** 0.5 * eps[1]


def lag1_loop(x):
    m = sum(float(v) for v in x) / len(x)
    num = sum((float(x[t]) - m) * (float(x[t + 1]) - m) for t in range(len(x) - 1))
    den = sum((float(v) - m) ** 2 for v in x)
    return torch.tensor(num / den, dtype=x.dtype, device=x.device)


def lag1_dot(x):
    c = x - x.mean()
    return torch.dot(c[1:], c[:-1]) / torch.dot(c, c)


def free_energy_logaddexp(v, W, b, c):
    a = v @ W + c
    return -(v @ b) - torch.logaddexp(torch.zeros_like(a), a).sum(1)


def free_energy_by_hand(v, W, b, c):
    a = torch.einsum("bd,dh->bh", v, W) + c
    stable = a.clamp(min=0) + torch.log1p(torch.exp(-a.abs()))
    return -(v * b).sum(1) - stable.sum(1)


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (gibbs_sampling.check_gibbs_sweep, sweep_normal),
        (gibbs_sampling.check_gibbs_sweep, sweep_noise_at_once),
        (gibbs_sampling.check_lag1_autocorrelation, lag1_loop),
        (gibbs_sampling.check_lag1_autocorrelation, lag1_dot),
        (gibbs_sampling.check_rbm_free_energy, free_energy_logaddexp),
        (gibbs_sampling.check_rbm_free_energy, free_energy_by_hand),
    ],
    ids=["sweep torch.normal", "sweep noise at once", "lag1 loop", "lag1 dot", "free energy logaddexp",
         "free energy by hand"],
)
def test_correct_variants_pass(check, answer, capsys):
    check(answer)
    assert "correct" in capsys.readouterr().out


# --- new wrong answers: randomness, unstable forms, untrainable losses, NaN ---------------


def _sweep_with(noise):
    def sweep(x, y, rho, generator):
        s = math.sqrt(1 - rho**2)
        x_new = rho * y + s * noise(x, generator)
        return x_new, rho * x_new + s * noise(y, generator)

    return sweep


def _fixed_seed_sweep(x, y, rho, generator):
    return sweep_right(x, y, rho, torch.Generator().manual_seed(0))


def _reseeding_sweep(x, y, rho, generator):
    torch.manual_seed(1)
    s = math.sqrt(1 - rho**2)
    x_new = rho * y + s * torch.randn(x.shape, dtype=x.dtype)
    return x_new, rho * x_new + s * torch.randn(y.shape, dtype=y.dtype)


SWEEP_MORE_WRONG = [
    (_fixed_seed_sweep, r"ignores its `generator` argument"),
    (_reseeding_sweep, r"ignores its `generator` argument"),
    (_sweep_with(lambda t, g: (torch.rand(t.shape, generator=g, dtype=t.dtype) - 0.5) * math.sqrt(12)),
     r"not Gaussian"),
    (_sweep_with(lambda t, g: torch.randn(1, generator=g, dtype=t.dtype).expand(t.shape)),
     r"the same noise in every chain"),
    (lambda x, y, rho, g: tuple(t * (1 + (rho == 0.95) * float("nan")) for t in sweep_right(x, y, rho, g)),
     r"contains NaN"),
    (lambda x, y, rho, g: torch.stack(sweep_right(x, y, rho, g)), r"pair"),
    (lambda x, y, rho, g: tuple(t.float() for t in sweep_right(x, y, rho, g)), r"dtype"),
]


def test_wrong_sweeps_are_explained():
    """Every wrong answer of the tables gets its message; at least 8 in 10 are specific."""
    _require_messages(gibbs_sampling.check_gibbs_sweep, SWEEP_WRONG + SWEEP_MORE_WRONG)


LAG1_MORE_WRONG = [
    (lambda x: ((c := x - x.mean()) * torch.roll(c, 1)).sum() / (c * c).sum(), r"wrap around"),
    (lambda x: ((c := x - x.mean())[2:] * c[:-2]).sum() / (c * c).sum(), r"lag-2"),
    (lambda x: ((c := x - x.mean())[1:] * c[:-1]).sum() / (c[:-1] * c[:-1]).sum(), r"only n − 1 squares"),
    (lambda x: float(lag1_right(x)) if len(x) > 10 else float(lag1_right(x)) * 1.5,
     r"wrong on|wrong values|alternating|n = 2"),
    (lambda x: lag1_right(x) * float("nan"), r"contains NaN"),
    (lambda x: lag1_right(x).double(), r"wrong dtype"),
    (lambda x: -lag1_right(x), r"sign error"),
]


@pytest.mark.filterwarnings(r"ignore:cov\(\)")  # the Pearson answer at n = 2 warns
def test_wrong_autocorrelations_are_explained():
    """Every wrong answer of the tables gets its message; at least 8 in 10 are specific."""
    _require_messages(gibbs_sampling.check_lag1_autocorrelation, LAG1_WRONG + LAG1_MORE_WRONG)


FREE_ENERGY_MORE_WRONG = [
    (lambda v, W, b, c: free_energy_right(v, W, b, c).detach(), r"carries no gradient"),
    (lambda v, W, b, c: torch.tensor(free_energy_right(v, W, b, c).tolist(), dtype=v.dtype),
     r"carries no gradient"),
    (lambda v, W, b, c: -(v @ b) - ((a := v @ W + c) + torch.log1p(torch.exp(-a))).sum(1), r"inf|NaN"),
    (lambda v, W, b, c: -(v @ b) - F.softplus(v @ W + c).sum(1) * (1 + 0 * torch.tensor(float("nan"))),
     r"contains NaN"),
    (lambda v, W, b, c: free_energy_right(v, W, b, c).tolist(), r"expected a torch.Tensor"),
]


def test_wrong_free_energies_are_explained():
    """Every wrong answer of the tables gets its message; at least 8 in 10 are specific."""
    _require_messages(gibbs_sampling.check_rbm_free_energy, FREE_ENERGY_WRONG + FREE_ENERGY_MORE_WRONG)


# --- Exercise 3.6: a Gibbs sampler for any bivariate Gaussian (build it yourself) ---------


def general_right(mu, sigma, rho, n_steps, n_chains, generator):
    mx, my, sx, sy = float(mu[0]), float(mu[1]), float(sigma[0]), float(sigma[1])
    x = torch.full((n_chains,), mx, dtype=mu.dtype)
    y = torch.full((n_chains,), my, dtype=mu.dtype)
    out = []
    for _ in range(n_steps):
        x = torch.normal(mx + rho * sx / sy * (y - my), math.sqrt(1 - rho**2) * sx, generator=generator)
        y = torch.normal(my + rho * sy / sx * (x - mx), math.sqrt(1 - rho**2) * sy, generator=generator)
        out.append(torch.stack([x, y], -1))
    return torch.stack(out, 1)


def _general(*, slope=None, mean="right", std=None, jacobi=False, y_first=False, scan="systematic",
             record_start=False, draw=None):
    """A sampler with one classic mistake (or none), written as a student would."""

    def sampler(mu, sigma, rho, n_steps, n_chains, generator):
        state = mu.expand(n_chains, 2).clone()
        out = torch.empty(n_chains, n_steps, 2, dtype=mu.dtype)

        def update(i, given):
            j = 1 - i
            b = (slope or (lambda r, s_new, s_giv: r * s_new / s_giv))(rho, sigma[i], sigma[j])
            m = {"right": mu[i] + b * (given - mu[j]), "ignored": b * given,
                 "not subtracted": mu[i] + b * given}[mean]
            s = (std or (lambda r, s_new: math.sqrt(1 - r**2) * s_new))(rho, sigma[i])
            eps = (draw or (lambda g, n, d: torch.randn(n, generator=g, dtype=d)))(generator, n_chains, mu.dtype)
            return m + s * eps

        for t in range(n_steps):
            if record_start:
                out[:, t] = state
            if scan == "random":
                i = int(torch.randint(2, (), generator=generator))
                state[:, i] = update(i, state[:, 1 - i])
            else:
                old = state.clone()
                order = (1, 0) if y_first else (0, 1)
                for i in order:
                    given = old[:, 1 - i] if (jacobi and i == 1) else state[:, 1 - i]
                    state[:, i] = update(i, given)
            if not record_start:
                out[:, t] = state
        return out

    return sampler


def general_noise_up_front(mu, sigma, rho, n_steps, n_chains, generator):
    eps = torch.randn(n_steps, 2, n_chains, generator=generator, dtype=mu.dtype)
    cond = torch.sqrt(1 - torch.tensor(rho, dtype=mu.dtype) ** 2) * sigma
    x, y = mu[0].repeat(n_chains), mu[1].repeat(n_chains)
    xs, ys = [], []
    for t in range(n_steps):
        x = mu[0] + rho * sigma[0] / sigma[1] * (y - mu[1]) + cond[0] * eps[t, 0]
        y = mu[1] + rho * sigma[1] / sigma[0] * (x - mu[0]) + cond[1] * eps[t, 1]
        xs.append(x)
        ys.append(y)
    return torch.stack([torch.stack(xs, 1), torch.stack(ys, 1)], -1)


@pytest.mark.parametrize(
    "answer",
    [general_right, general_noise_up_front, _general(), _general(y_first=True)],
    ids=["torch.normal", "noise drawn up front", "in-place state", "y drawn first"],
)
def test_general_bivariate_right_answers_pass(answer, capsys):
    gibbs_sampling.check_gibbs_general_bivariate(answer)
    assert "✔ Exercise 3.6 (gibbs_general_bivariate): correct" in capsys.readouterr().out


def test_general_bivariate_stub_is_not_attempted(capsys):
    gibbs_sampling.check_gibbs_general_bivariate(stub)
    assert "not attempted yet" in capsys.readouterr().out


def _fixed_seed(mu, sigma, rho, n_steps, n_chains, generator):
    return general_right(mu, sigma, rho, n_steps, n_chains, torch.Generator().manual_seed(42))


GENERAL_WRONG = {
    "standard-case conditional (σₓ/σᵧ forgotten)": (
        _general(slope=lambda r, s_new, s_giv: r), r"the σ_\w/σ_\w scaling is missing"),
    "ratio swapped": (_general(slope=lambda r, s_new, s_giv: r * s_giv / s_new), r"upside down"),
    "variance used as a std": (
        _general(std=lambda r, s: (1 - r**2) * s**2), r"scaled by the conditional variance"),
    "standard-case std": (_general(std=lambda r, s: math.sqrt(1 - r**2)), r"standard case's standard deviation"),
    "marginal std": (_general(std=lambda r, s: s), r"marginal standard deviation"),
    "square root missing": (_general(std=lambda r, s: (1 - r**2) * s), r"square root is missing"),
    "Jacobi (y from the old x)": (_general(jacobi=True), r"Jacobi update.*lag-1 autocorrelation"),
    "means ignored": (_general(mean="ignored"), r"the means are ignored"),
    "μ of the given coordinate not subtracted": (_general(mean="not subtracted"), r"is not subtracted"),
    "a fixed seed inside": (_fixed_seed, r"ignores its `generator` argument"),
    "global random state": (_general(draw=lambda g, n, d: torch.randn(n, dtype=d)), r"global random state"),
    "one noise for all chains": (_general(draw=lambda g, n, d: torch.randn(1, generator=g, dtype=d).expand(n)),
                                 r"every chain is in the same state"),
    "random scan": (_general(scan="random"), r"depends on the previous|lag-1|variance|correlation|mean"),
    "start recorded": (_general(record_start=True), r"the first recorded state is the start"),
    "one state too many": (
        lambda mu, s, r, t, n, g: torch.cat([mu.expand(n, 1, 2), general_right(mu, s, r, t, n, g)], 1),
        r"one state too many"),
    "steps and chains swapped": (
        lambda mu, s, r, t, n, g: general_right(mu, s, r, t, n, g).transpose(0, 1),
        r"dimensions are in the wrong order"),
    "uniform noise": (
        _general(draw=lambda g, n, d: (torch.rand(n, generator=g, dtype=d) - 0.5) * math.sqrt(12)),
        r"not Gaussian"),
    "float32 chains": (lambda *a: general_right(*a).float(), r"wrong dtype"),
    "NaN for negative ρ": (
        lambda mu, s, r, t, n, g: general_right(mu, s, r, t, n, g) * (math.nan if r < 0 else 1.0),
        r"NaN or inf"),
}


def test_general_bivariate_wrong_answers_are_named():
    _require_messages(gibbs_sampling.check_gibbs_general_bivariate, list(GENERAL_WRONG.values()),
                      names=list(GENERAL_WRONG))


def test_general_bivariate_check_leaves_the_global_state(capsys):
    state = torch.get_rng_state()
    gibbs_sampling.check_gibbs_general_bivariate(general_right)
    assert torch.equal(torch.get_rng_state(), state)


# --- mechanical mutants of the references: all rejected; most messages specific ----------


def _positional(mutant):
    """A generator mutant (generator by keyword) called as the checks call answers."""
    return lambda *args: mutant(*args[:-1], generator=args[-1])


def _keyword(reference):
    return lambda *args, generator=None: reference(*args, generator)


MUTANTS = {
    "3.1 gibbs_sweep": (
        gibbs_sampling.check_gibbs_sweep,
        {**output_mutants(sweep_right, only=("scaled by 1.01", "negated", "doubled", "shifted by 0.01",
                                             "first value perturbed", "last value perturbed",
                                             "one value NaN", "transposed", "a Python float")),
         **{k: _positional(m) for k, m in generator_mutants(_keyword(sweep_right)).items()}},
    ),
    "3.2 lag1_autocorrelation": (
        gibbs_sampling.check_lag1_autocorrelation,
        output_mutants(lag1_right, only=("scaled by 1.01", "negated", "doubled", "shifted by 0.01",
                                         "one value NaN")),  # a float is accepted for a 0-d answer
    ),
    "3.3 rbm_free_energy": (gibbs_sampling.check_rbm_free_energy, output_mutants(free_energy_right)),
    "3.6 gibbs_general_bivariate": (
        gibbs_sampling.check_gibbs_general_bivariate,
        {**output_mutants(general_right, only=("scaled by 1.01", "negated", "doubled", "shifted by 0.01",
                                               "first value perturbed", "last value perturbed",
                                               "one value NaN", "transposed", "a Python float")),
         **{k: _positional(m) for k, m in generator_mutants(_keyword(general_right)).items()}},
    ),
}


@pytest.mark.parametrize("exercise", MUTANTS, ids=MUTANTS.keys())
def test_mechanical_mutants_are_rejected(exercise):
    check, mutants = MUTANTS[exercise]
    messages = rejections(check, mutants)
    specific = [m for m in messages.values() if is_specific(m)]
    assert len(specific) >= 0.8 * len(messages), messages


# --- Part I: no check draws from the global random state ---------------------------------


def _part_one_checks():
    import test_exercises_generative_models as ch1
    import test_exercises_latent_variables as ch2

    from genmodels.exercises import generative_models, latent_variables

    return [
        (generative_models.check_mixture_log_density, ch1._ref_log_density),
        (generative_models.check_sample_mixture, ch1._ref_sample),
        (generative_models.check_average_log_likelihood, lambda m, x: m.log_prob(x).mean()),
        (latent_variables.check_gmm_responsibilities, ch2.responsibilities_right),
        (latent_variables.check_ppca_posterior, ch2.posterior_right),
        (gibbs_sampling.check_gibbs_sweep, sweep_right),
        (gibbs_sampling.check_lag1_autocorrelation, lag1_right),
        (gibbs_sampling.check_rbm_free_energy, free_energy_right),
        (gibbs_sampling.check_gibbs_general_bivariate, general_right),
    ]


def test_part_one_checks_never_draw_from_the_global_random_state(monkeypatch, capsys):
    """Every random draw of a check (hidden inputs, reference models) uses a generator the
    check seeds itself, so a grade is reproducible whatever the global state; the only
    global draw allowed is the framework's own move of the global state in
    ``require_generator_use`` (restored on exit)."""
    import traceback

    def guarded(name, original):
        def draw(*args, **kwargs):
            if kwargs.get("generator") is None and not any(
                    frame.name == "require_generator_use" for frame in traceback.extract_stack()):
                raise AssertionError(f"torch.{name} drew from the global random state")
            return original(*args, **kwargs)
        return draw

    for name in ("randn", "rand", "randint", "multinomial", "randperm", "normal"):
        monkeypatch.setattr(torch, name, guarded(name, getattr(torch, name)))
    for check, reference in _part_one_checks():
        check(reference)
    assert capsys.readouterr().out.count("correct") == 9

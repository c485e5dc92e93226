"""Chapter 7 checks: the library's reference passes; typical wrong answers get their message.

The wrong answers below are written independently of the checks' own ``Mistake`` table
(e.g. with ``binary_cross_entropy`` on probabilities or with NumPy), so a check that
recognises them recognises the mistake, not its own formula. (The notebook's reference
solutions are run by ``test_exercises.py``.)
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genmodels import gan
from genmodels.exercises import ExerciseError, gan_objective

bce = F.binary_cross_entropy
sig = torch.sigmoid

# --- Exercise 7.1: discriminator_bce ---------------------------------------------------


def _bce_sum(r, f):
    return bce(sig(r), torch.ones_like(r), reduction="sum") + bce(sig(f), torch.zeros_like(f),
                                                                   reduction="sum")


DISCRIMINATOR_WRONG = {
    "value instead of loss": (
        lambda r, f: torch.log(sig(r)).mean() + torch.log1p(-sig(f)).mean(), "sign error"),
    "labels swapped": (
        lambda r, f: F.binary_cross_entropy_with_logits(r, torch.zeros_like(r))
        + F.binary_cross_entropy_with_logits(f, torch.ones_like(f)),
        "labels are swapped",
    ),
    "real term only": (
        lambda r, f: F.binary_cross_entropy_with_logits(r, torch.ones_like(r)),
        "only the real-image term",
    ),
    "pooled mean": (
        lambda r, f: F.binary_cross_entropy_with_logits(
            torch.cat([r, f]), torch.cat([torch.ones_like(r), torch.zeros_like(f)])),
        "pooled together",
    ),
    "sum over samples": (_bce_sum, "you summed over the samples"),
    "log of sigmoid (unstable)": (
        lambda r, f: -torch.log(sig(r)).mean() - torch.log(1 - sig(f)).mean(),
        "log(sigmoid(l)) is not stable",
    ),
    "returns a float": (lambda r, f: 0.7, "wrong values"),
}


def test_discriminator_bce_reference_passes(capsys):
    gan_objective.check_discriminator_bce(
        lambda r, f: F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
        + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
    )
    assert "✔ Exercise 7.1 (discriminator_bce): correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, fragment", DISCRIMINATOR_WRONG.values(),
                         ids=DISCRIMINATOR_WRONG.keys())
def test_discriminator_bce_wrong_answers(wrong, fragment):
    with pytest.raises(ExerciseError, match=r"^Exercise 7\.1 \(discriminator_bce\)") as err:
        gan_objective.check_discriminator_bce(wrong)
    assert fragment in str(err.value)


def test_discriminator_bce_stub_not_attempted(capsys):
    def stub(r, f):
        raise NotImplementedError("Exercise 7.1: not attempted yet")

    gan_objective.check_discriminator_bce(stub)
    assert "not attempted yet" in capsys.readouterr().out


# --- Exercise 7.2: generator_loss_flip_labels -----------------------------------------

GENERATOR_WRONG = {
    "saturating loss": (lambda f: torch.log1p(-sig(f)).mean(), "saturating loss"),
    "log D without minus": (lambda f: F.logsigmoid(f).mean(), "sign error"),
    "target 0": (
        lambda f: F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)),
        "labels are not flipped",
    ),
    "sum": (
        lambda f: F.binary_cross_entropy_with_logits(f, torch.ones_like(f), reduction="sum"),
        "summed over the batch",
    ),
    "log of sigmoid (unstable)": (lambda f: -torch.log(sig(f)).mean(), "not stable"),
    "detached": (
        lambda f: F.softplus(-f).mean().detach(),
        "no gradient",
    ),
}


def test_generator_loss_reference_passes(capsys):
    gan_objective.check_generator_loss_flip_labels(
        lambda f: F.binary_cross_entropy_with_logits(f, torch.ones_like(f)))
    assert "✔ Exercise 7.2 (generator_loss_flip_labels): correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, fragment", GENERATOR_WRONG.values(), ids=GENERATOR_WRONG.keys())
def test_generator_loss_wrong_answers(wrong, fragment):
    with pytest.raises(ExerciseError,
                       match=r"^Exercise 7\.2 \(generator_loss_flip_labels\)") as err:
        gan_objective.check_generator_loss_flip_labels(wrong)
    assert fragment in str(err.value)


# --- Exercise 7.3: jensen_shannon_divergence ------------------------------------------


def _numpy_jsd(p, q, *, half=True, mix=0.5, base=math.e, nan_at_zero=False):
    """An independent NumPy implementation, with switches for the typical mistakes."""
    pn, qn = p.detach().cpu().numpy(), q.detach().cpu().numpy()
    m = mix * (pn + qn)
    with np.errstate(divide="ignore", invalid="ignore"):
        if nan_at_zero:
            kp = (pn * np.log(pn / m)).sum(-1)
            kq = (qn * np.log(qn / m)).sum(-1)
        else:
            kp = np.where(pn > 0, pn * np.log(np.where(pn > 0, pn, 1) / m), 0).sum(-1)
            kq = np.where(qn > 0, qn * np.log(np.where(qn > 0, qn, 1) / m), 0).sum(-1)
    out = (0.5 if half else 1.0) * (kp + kq) / math.log(base)
    return torch.as_tensor(out, dtype=p.dtype, device=p.device)


def _numpy_kl(p, q):
    pn, qn = p.cpu().numpy(), q.cpu().numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(pn > 0, pn * np.log(np.where(pn > 0, pn, 1) / qn), 0).sum(-1)
    return torch.as_tensor(out, dtype=p.dtype, device=p.device)


JSD_WRONG = {
    "KL(p||q)": (_numpy_kl, "that is KL(p ‖ q)"),
    "no halves": (lambda p, q: _numpy_jsd(p, q, half=False), "factors ½ are missing"),
    "m = p + q": (lambda p, q: _numpy_jsd(p, q, mix=1.0), "you used p + q"),
    "bits": (lambda p, q: _numpy_jsd(p, q, base=2), "bits"),
    "scipy distance": (lambda p, q: _numpy_jsd(p, q).sqrt(), "Jensen–Shannon *distance*"),
    "0 log 0 = NaN": (lambda p, q: _numpy_jsd(p, q, nan_at_zero=True), "torch.xlogy"),
    "reduced over the batch too": (lambda p, q: _numpy_jsd(p, q).sum(), "wrong shape"),
}


def test_jsd_reference_passes(capsys):
    gan_objective.check_jensen_shannon_divergence(_numpy_jsd)
    assert "✔ Exercise 7.3 (jensen_shannon_divergence): correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, fragment", JSD_WRONG.values(), ids=JSD_WRONG.keys())
def test_jsd_wrong_answers(wrong, fragment):
    with pytest.raises(ExerciseError,
                       match=r"^Exercise 7\.3 \(jensen_shannon_divergence\)") as err:
        gan_objective.check_jensen_shannon_divergence(wrong)
    assert fragment in str(err.value)


def test_references_are_the_library():
    # The checks compare with genmodels.gan; make sure those agree with scipy here too.
    from scipy.spatial.distance import jensenshannon

    p = torch.tensor([0.1, 0.2, 0.7], dtype=torch.float64)
    q = torch.tensor([0.3, 0.3, 0.4], dtype=torch.float64)
    assert gan.jensen_shannon(p, q).item() == pytest.approx(
        jensenshannon(p.numpy(), q.numpy()) ** 2, rel=1e-10)

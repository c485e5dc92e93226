"""The library's GPU path: each chapter's training code on CUDA, against the same run on the CPU.

Every test here needs a CUDA device and is skipped without one (the CI machine has none;
``python -m pytest tests/test_gpu_path.py`` on a GPU machine runs them). Each trains a
model a few steps on both devices from the same initial weights with the same CPU random
generator (the library draws its random numbers on the generator's device and moves
them), so the two runs see the same data, noise and latent draws and must agree to
float32 rounding. A device bug (a tensor left on the CPU, noise drawn differently on the
GPU, a CPU-only call) fails these tests with an error or an O(1) difference.

TF32 is switched off for the comparisons: with it, CUDA matrix products round to 10
mantissa bits and differ from the CPU by about 1e-3 relative.
"""

from __future__ import annotations

import copy

import pytest
import torch

from genmodels import gan, rbm, vae
from genmodels.bench.sections import SECTIONS
from genmodels.experiments import image_gan, vae_fashion
from genmodels.experiments.toy_gan import ToyGanSettings, config_by_name, train_toy_gan
from genmodels.measure import sample_quality, vae_diagnostics
from genmodels.measure.classifier import FashionClassifier

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CPU = torch.device("cpu")
CUDA = torch.device("cuda")


@pytest.fixture(autouse=True)
def full_float32_on_cuda():
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def assert_same_parameters(a: torch.nn.Module, b: torch.nn.Module, atol: float) -> None:
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert pb.device.type == "cuda", f"{name} is not on the GPU"
        torch.testing.assert_close(pb.detach().cpu(), pa.detach(), atol=atol, rtol=1e-3,
                                   msg=lambda m, name=name: f"{name}: {m}")


def binary_images(n: int, seed: int) -> torch.Tensor:
    """``n`` random 28×28 binary images ``[n, 1, 28, 28]`` (CPU), blobs rather than noise."""
    g = gen(seed)
    coarse = torch.rand(n, 1, 7, 7, generator=g)
    return (torch.nn.functional.interpolate(coarse, scale_factor=4) > 0.6).float()


# ----------------------------------------------------------------------------- chapter 6


def test_vae_training_and_bounds_on_cuda_follow_the_cpu():
    torch.manual_seed(0)
    on_cpu = vae.MLPVAE(8, hidden=(64,))
    on_gpu = copy.deepcopy(on_cpu).to(CUDA)
    x = binary_images(96, 1)
    settings = vae_fashion.FashionVAESettings(batch_size=32, fused_adam=True)
    h_cpu = vae.train_with_adam(on_cpu, x, 2, settings, gen(2))
    h_gpu = vae.train_with_adam(on_gpu, x.to(CUDA), 2, settings, gen(2))
    torch.testing.assert_close(torch.tensor(h_gpu.values["loss"]),
                               torch.tensor(h_cpu.values["loss"]), rtol=1e-4, atol=1e-3)
    assert_same_parameters(on_cpu, on_gpu, atol=1e-4)
    elbo_cpu = vae_diagnostics.elbo_in_batches(on_cpu, x, 32, 4, gen(3))
    elbo_gpu = vae_diagnostics.elbo_in_batches(on_gpu, x.to(CUDA), 32, 4, gen(3))
    iwae_cpu = vae_diagnostics.iwae_in_batches(on_cpu, x, 16, 32, 8, gen(4))
    iwae_gpu = vae_diagnostics.iwae_in_batches(on_gpu, x.to(CUDA), 16, 32, 8, gen(4))
    assert elbo_gpu.elbo.device.type == iwae_gpu.device.type == "cuda"
    for cpu_value, gpu_value in ((elbo_cpu.elbo, elbo_gpu.elbo), (elbo_cpu.kl, elbo_gpu.kl),
                                 (iwae_cpu, iwae_gpu)):
        torch.testing.assert_close(gpu_value.cpu(), cpu_value, rtol=1e-4, atol=1e-3)


# ----------------------------------------------------------------------------- chapter 3


def test_rbm_cd_and_pcd_training_and_exact_likelihood_on_cuda_follow_the_cpu():
    x = (torch.rand(64, 12, generator=gen(5)) > 0.5).float()
    for persistent in (False, True):
        on_cpu = rbm.BernoulliRBM(12, 6, generator=gen(6))
        on_gpu = copy.deepcopy(on_cpu).to(CUDA)
        kwargs = dict(epochs=3, k=2, persistent=persistent, batch_size=16)
        rbm.train_rbm(on_cpu, x, generator=gen(7), **kwargs)
        rbm.train_rbm(on_gpu, x.to(CUDA), generator=gen(7), **kwargs)
        assert_same_parameters(on_cpu, on_gpu, atol=1e-5)
        log_z_cpu = rbm.log_partition_function(on_cpu)
        log_z_gpu = rbm.log_partition_function(on_gpu)
        torch.testing.assert_close(torch.as_tensor(log_z_gpu).cpu(), torch.as_tensor(log_z_cpu),
                                   rtol=1e-5, atol=1e-4)
        ll_cpu = rbm.exact_log_likelihood(on_cpu, x, log_z_cpu)
        ll_gpu = rbm.exact_log_likelihood(on_gpu, x.to(CUDA), log_z_gpu)
        torch.testing.assert_close(torch.as_tensor(ll_gpu).cpu(), torch.as_tensor(ll_cpu),
                                   rtol=1e-5, atol=1e-4)


# ----------------------------------------------------------------------------- chapters 7, 9 and 10


@pytest.mark.parametrize("name", ["vanilla", "minibatch_std", "pacgan", "wgan_gp", "spectral_norm"])
def test_toy_gan_training_on_cuda_follows_the_cpu(name):
    settings = ToyGanSettings(width=32, depth=2, steps=15, batch=64, n_eval=500)
    runs = [train_toy_gan("grid", config_by_name(name), settings, seed=3, device=d)
            for d in (CPU, CUDA)]
    assert next(runs[1].generator.parameters()).device.type == "cuda"
    # 15 Adam steps of a two-player game: float32 rounding grows a little; a device bug
    # (other noise or data) moves samples by O(1) on a grid of spacing 2.
    torch.testing.assert_close(runs[1].samples, runs[0].samples, atol=2e-3, rtol=1e-3)


# ----------------------------------------------------------------------------- chapter 8


@pytest.mark.parametrize("family", ["mlp", "dcgan"])
def test_image_gan_training_on_cuda_follows_the_cpu(family):
    settings = image_gan.ImageGanSettings(latent_dim=8, mlp_hidden=(32,), batch_size=8,
                                          n_eval=8, snapshots=2, log_every=2)
    x = binary_images(64, 8) * 2 - 1

    def players(device):
        torch.manual_seed(9)
        if family == "mlp":
            return gan.mlp_gan_players(settings.latent_dim, device, settings.mlp_hidden)
        return gan.dcgan_players(settings.latent_dim, device, channels=8)

    G_cpu, D_cpu = players(CPU)
    G_gpu, D_gpu = players(CUDA)
    h_cpu, _ = image_gan.train_gan_recording_samples(G_cpu, D_cpu, x, 6, settings, gen(10))
    h_gpu, _ = image_gan.train_gan_recording_samples(G_gpu, D_gpu, x.to(CUDA), 6, settings,
                                                     gen(10))
    # Compare what the players compute, not their weights: the DCGAN's biases in front of a
    # batch norm have a gradient of exactly zero, so Adam turns float rounding in them into
    # steps of ±lr that the batch norm then cancels (in training mode, on batch statistics).
    z = gan.sample_latent(16, settings.latent_dim, CPU, gen(11))
    for net_cpu, net_gpu, inputs in ((G_cpu, G_gpu, z), (D_cpu, D_gpu, x[:16])):
        assert next(net_gpu.parameters()).device.type == "cuda"
        net_cpu.train()
        net_gpu.train()
        with torch.no_grad():
            torch.testing.assert_close(net_gpu(inputs.to(CUDA)).cpu(), net_cpu(inputs),
                                       atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(torch.tensor(h_gpu.values["d_loss"]),
                               torch.tensor(h_cpu.values["d_loss"]), rtol=1e-3, atol=1e-3)


# ----------------------------------------------------------------------------- metrics


def test_classifier_features_and_frechet_distance_on_cuda_match_the_cpu():
    torch.manual_seed(11)
    classifier = FashionClassifier().eval()
    a, b = binary_images(200, 12), binary_images(200, 13).flip(-1)
    fd_cpu = sample_quality.classifier_frechet_distance(a, b, classifier)
    classifier_gpu = copy.deepcopy(classifier).to(CUDA)
    feats_gpu = classifier_gpu.features(a.to(CUDA))
    assert feats_gpu.device.type == "cuda"
    torch.testing.assert_close(feats_gpu.cpu(), classifier.features(a), rtol=1e-4, atol=1e-5)
    fd_gpu = sample_quality.classifier_frechet_distance(a.to(CUDA), b.to(CUDA), classifier_gpu)
    assert fd_cpu > 0
    assert fd_gpu == pytest.approx(fd_cpu, rel=1e-3)


# ----------------------------------------------------------------------------- whole chapters


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_each_chapter_benchmark_section_runs_on_cuda(name):
    """The chapters' own pipelines (data, training, evaluation) end to end on the GPU.

    A smoke run (``quick``): it must finish on CUDA and report the GPU as its device; the
    numbers at these tiny budgets are checked only for being finite.
    """
    section = SECTIONS[name].run(quick=True, seed=0, device=CUDA)
    assert section["wall_time"] > 0
    numbers = [v for v in _leaves(section) if isinstance(v, float)]
    assert numbers and all(v == v and abs(v) != float("inf") for v in numbers), name


def _leaves(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _leaves(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _leaves(v)
    else:
        yield obj

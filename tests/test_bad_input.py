"""Bad input gets an error that names the argument, what was expected and the fix (issue 18).

The first tests reproduce single items of the issue; ``test_every_public_function_names_
its_argument`` then feeds every public function of the package a NaN, a wrong dtype and a
wrong shape, discovering the functions rather than listing them.
"""

from __future__ import annotations

import pytest
import torch

from genmodels import autoencoder, gan, vae
from genmodels.core import device as device_module
from genmodels.core import train


@pytest.mark.parametrize("value", ["CPU", "gpu", "cuda:x"])
def test_a_bad_genmodels_device_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("GENMODELS_DEVICE", value)
    with pytest.raises(ValueError, match=f"GENMODELS_DEVICE.*{value!r}.*'cpu', 'cuda\\[:N\\]' or 'mps'"):
        device_module.pick_device()
    with pytest.raises(ValueError, match="prefer is 'Cuda'"):
        device_module.pick_device("Cuda")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_an_input_of_another_dtype_than_the_model_is_named(dtype):
    """Issue 18: float64 or float16 inputs reached torch's 'mat1 and mat2 must have the
    same dtype'."""
    model = vae.MLPVAE(latent_dim=2, hidden=(8,))
    with pytest.raises(TypeError, match=f"x has dtype {dtype}, but the model's parameters are "
                       r"torch.float32; convert the input with x.to\(torch.float32\)"):
        model.encode(torch.rand(3, 1, 28, 28, dtype=dtype))
    with pytest.raises(TypeError, match=f"z has dtype {dtype}"):
        model.decode(torch.zeros(3, 2, dtype=dtype))
    ae = autoencoder.MLPAutoencoder(latent_dim=2, hidden=(8,))
    with pytest.raises(TypeError, match=f"x has dtype {dtype}"):
        ae(torch.rand(3, 1, 28, 28, dtype=dtype))
    G, D = gan.MLPGenerator(2, 2, hidden=(8,)), gan.MLPDiscriminator(2, hidden=(8,))
    with pytest.raises(TypeError, match=f"z has dtype {dtype}"):
        G(torch.zeros(4, 2, dtype=dtype))
    with pytest.raises(TypeError, match=f"x has dtype {dtype}"):
        D(torch.zeros(4, 2, dtype=dtype))


def test_a_dcgan_refuses_a_batch_of_one_with_the_fix():
    """Issue 18: a DCGAN fed a last batch of one failed inside batch norm."""
    G, D = gan.DCGANGenerator(4, channels=4), gan.DCGANDiscriminator(channels=4)
    x = torch.rand(5, 1, 28, 28)  # batches of 2, 2 and 1
    with pytest.raises(ValueError, match="a batch of one real sample: G and D use batch "
                       "normalisation.*drop_last=True"):
        gan.train_gan(G, D, lambda: train.minibatches(x, batch_size=2, shuffle=False), 4, lr=1e-3)


# ---------------------------------------------------------------------------------------
# Every public function: a NaN, a wrong dtype, a wrong shape -> an error naming the argument
# ---------------------------------------------------------------------------------------

import importlib  # noqa: E402
import inspect  # noqa: E402
import pkgutil  # noqa: E402
import re  # noqa: E402
from collections.abc import Callable  # noqa: E402

import genmodels  # noqa: E402
from genmodels import gibbs, lvm, rbm, toy  # noqa: E402
from genmodels.core import data  # noqa: E402
from genmodels.experiments import gibbs_mixing  # noqa: E402
from genmodels.measure import coverage, gan_monitor, sample_quality, vae_diagnostics  # noqa: E402
from genmodels.show import plot  # noqa: E402

# Packages whose functions are not numerical functions of tensors: the exercise checkers
# (they call a student's function; tests/test_exercise*.py cover them) and the benchmark
# (a command line; tests/test_bench.py covers its options).
NOT_DISCOVERED = ("genmodels.exercises", "genmodels.bench")


def public_functions() -> list[str]:
    """Qualified names of every public function, class (its constructor) and public method of
    ``genmodels`` that takes a tensor or a float: what a notebook calls or the package exports."""
    found = []
    for info in pkgutil.walk_packages(genmodels.__path__, "genmodels."):
        if info.name.startswith(NOT_DISCOVERED):
            continue
        module = importlib.import_module(info.name)
        names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
        for name in names:
            obj = getattr(module, name)
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            candidates = []
            if inspect.isfunction(obj):
                candidates.append((name, obj))
            elif inspect.isclass(obj):
                candidates.append((name, obj.__init__))
                candidates += [(f"{name}.{m}", f) for m, f in vars(obj).items()
                               if not m.startswith("_") and inspect.isfunction(f)]
            for qualname, fn in candidates:
                try:
                    parameters = inspect.signature(fn).parameters.values()
                except (TypeError, ValueError):
                    continue
                if any(_takes_numbers(p.annotation) for p in parameters):
                    found.append(f"{module.__name__}.{qualname}")
    return sorted(set(found))


def _takes_numbers(annotation: object) -> bool:
    text = str(annotation)
    return "Tensor" in text or text.split(" |")[0] in {"float", "'float'"}


def _r(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def _psd(f: int) -> torch.Tensor:
    a = torch.randn(f, f, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    return a @ a.T + torch.eye(f, dtype=torch.float64)


def _vae() -> vae.MLPVAE:
    torch.manual_seed(0)
    return vae.MLPVAE(latent_dim=2, hidden=(8,))


def _rbm() -> rbm.BernoulliRBM:
    return rbm.BernoulliRBM(4, 3, generator=torch.Generator().manual_seed(0))


def _ae() -> autoencoder.MLPAutoencoder:
    torch.manual_seed(0)
    return autoencoder.MLPAutoencoder(latent_dim=2, hidden=(8,))


def _classifier():
    from genmodels.measure.classifier import FashionClassifier

    torch.manual_seed(0)
    return FashionClassifier()


def _mixture() -> lvm.GaussianMixture:
    return lvm.GaussianMixture(torch.tensor([0.5, 0.5]), torch.zeros(2, 2), torch.eye(2).expand(2, 2, 2))


def _ppca() -> lvm.PPCA:
    return lvm.PPCA(torch.ones(3, 1), torch.zeros(3), 0.5)


# A valid call of each function: () -> (callable, keyword arguments). Each tensor or float
# argument is then replaced, one at a time, by a NaN, a wrong dtype and a wrong shape.
EXAMPLES: dict[str, Callable[[], tuple[Callable, dict]]] = {
    # latent variable models
    "genmodels.lvm.GaussianMixture": lambda: (lvm.GaussianMixture, dict(
        weights=torch.tensor([0.5, 0.5]), means=torch.zeros(2, 2), covariances=torch.eye(2).expand(2, 2, 2).clone())),
    "genmodels.lvm.GaussianMixture.log_prob": lambda: (_mixture().log_prob, dict(x=_r(5, 2))),
    "genmodels.lvm.GaussianMixture.joint_log_probs": lambda: (_mixture().joint_log_probs, dict(x=_r(5, 2))),
    "genmodels.lvm.GaussianMixture.responsibilities": lambda: (_mixture().responsibilities, dict(x=_r(5, 2))),
    "genmodels.lvm.em_step": lambda: (lvm.em_step, dict(mixture=_mixture(), x=_r(20, 2), reg=1e-6)),
    "genmodels.lvm.fit_gaussian_mixture": lambda: (lvm.fit_gaussian_mixture, dict(
        x=_r(20, 2), n_components=2, n_iter=2, tol=1e-7, reg=1e-6)),
    "genmodels.lvm.PPCA": lambda: (lvm.PPCA, dict(W=torch.ones(3, 1), mu=torch.zeros(3), sigma2=0.5)),
    "genmodels.lvm.PPCA.marginal_log_prob": lambda: (_ppca().marginal_log_prob, dict(x=_r(4, 3))),
    "genmodels.lvm.PPCA.posterior": lambda: (_ppca().posterior, dict(x=_r(4, 3))),
    "genmodels.lvm.PPCA.conditional_mean": lambda: (_ppca().conditional_mean, dict(z=_r(4, 1))),
    "genmodels.lvm.fit_ppca": lambda: (lvm.fit_ppca, dict(x=_r(20, 3), latent_dim=1)),
    "genmodels.toy.IsotropicMixture2D": lambda: (toy.IsotropicMixture2D, dict(centres=_r(3, 2), std=0.1)),
    "genmodels.toy.IsotropicMixture2D.log_prob": lambda: (toy.ring_mixture().log_prob, dict(x=_r(5, 2))),
    # Gibbs sampling
    "genmodels.gibbs.gibbs_discrete_pair": lambda: (gibbs.gibbs_discrete_pair, dict(
        joint=torch.tensor([[0.3, 0.2], [0.1, 0.4]]), n_steps=3)),
    "genmodels.gibbs.gibbs_bivariate_gaussian": lambda: (gibbs.gibbs_bivariate_gaussian, dict(
        rho=0.5, n_steps=3, n_chains=2, start=torch.zeros(2, 2))),
    "genmodels.gibbs.autocorrelation": lambda: (gibbs.autocorrelation, dict(x=_r(50))),
    "genmodels.gibbs.integrated_autocorrelation_time": lambda: (gibbs.integrated_autocorrelation_time, dict(x=_r(50))),
    "genmodels.gibbs.effective_sample_size": lambda: (gibbs.effective_sample_size, dict(x=_r(50))),
    # RBM (the monitors and likelihoods; the training loop is below)
    "genmodels.rbm.BernoulliRBM.energy": lambda: (_rbm().energy, dict(v=_r(5, 4).round(), h=_r(5, 3).round())),
    "genmodels.rbm.BernoulliRBM.hidden_probs": lambda: (_rbm().hidden_probs, dict(v=_r(5, 4).round())),
    "genmodels.rbm.BernoulliRBM.visible_probs": lambda: (_rbm().visible_probs, dict(h=_r(5, 3).round())),
    "genmodels.rbm.BernoulliRBM.free_energy": lambda: (_rbm().free_energy, dict(v=_r(5, 4).round())),
    "genmodels.rbm.pseudo_log_likelihood": lambda: (rbm.pseudo_log_likelihood, dict(rbm=_rbm(), v=_r(5, 4).round())),
    "genmodels.rbm.reconstruction_error": lambda: (rbm.reconstruction_error, dict(rbm=_rbm(), v=_r(5, 4).round())),
    "genmodels.rbm.exact_log_likelihood": lambda: (rbm.exact_log_likelihood, dict(rbm=_rbm(), v=_r(5, 4).round())),
    "genmodels.rbm.train_rbm": lambda: (rbm.train_rbm, dict(
        rbm=_rbm(), data=_r(8, 4).round(), epochs=1, lr=0.05, momentum=0.5, weight_decay=0.0)),
    # sample quality, coverage, monitors
    "genmodels.measure.sample_quality.mode_metrics": lambda: (sample_quality.mode_metrics, dict(
        samples=_r(10, 2), mixture=toy.ring_mixture(), n_std=3.0, smoothing=0.0)),
    "genmodels.measure.sample_quality.gaussian_frechet_distance": lambda: (
        sample_quality.gaussian_frechet_distance, dict(mu_a=torch.zeros(3), cov_a=_psd(3),
                                                       mu_b=torch.ones(3), cov_b=_psd(3))),
    "genmodels.measure.sample_quality.frechet_distance": lambda: (sample_quality.frechet_distance, dict(
        feats_a=_r(10, 3), feats_b=_r(10, 3, seed=1))),
    "genmodels.measure.sample_quality.gaussian_fit": lambda: (sample_quality.gaussian_fit, dict(feats=_r(10, 3))),
    "genmodels.measure.coverage.class_coverage": lambda: (coverage.class_coverage, dict(
        probs=torch.softmax(_r(6, 10), 1), min_share=0.01)),
    "genmodels.measure.coverage.kl_to_uniform": lambda: (coverage.kl_to_uniform, dict(shares=torch.full((10,), 0.1))),
    "genmodels.measure.coverage.class_histogram": lambda: (coverage.class_histogram, dict(
        predicted=torch.tensor([0, 1, 1, 3]), n_classes=4)),
    "genmodels.measure.gan_monitor.discriminator_accuracy": lambda: (gan_monitor.discriminator_accuracy, dict(
        real_logits=_r(6) - 0.5, fake_logits=_r(6, seed=1) - 0.5)),
    # VAE diagnostics
    "genmodels.measure.vae_diagnostics.active_units": lambda: (vae_diagnostics.active_units, dict(mu=_r(6, 2), threshold=0.01)),
    "genmodels.measure.vae_diagnostics.unit_activity": lambda: (vae_diagnostics.unit_activity, dict(mu=_r(6, 2))),
    "genmodels.measure.vae_diagnostics.kl_per_dimension": lambda: (vae_diagnostics.kl_per_dimension, dict(
        mu=_r(6, 2), logvar=_r(6, 2, seed=1))),
    "genmodels.measure.vae_diagnostics.latent_mean_and_covariance": lambda: (
        vae_diagnostics.latent_mean_and_covariance, dict(z=_r(6, 2))),
    "genmodels.measure.vae_diagnostics.moment_matched_kl_to_standard_normal": lambda: (
        vae_diagnostics.moment_matched_kl_to_standard_normal, dict(z=_r(6, 2))),
    "genmodels.measure.vae_diagnostics.moment_matched_samples": lambda: (
        vae_diagnostics.moment_matched_samples, dict(z=_r(6, 2), n=3)),
    "genmodels.measure.vae_diagnostics.whiten_codes": lambda: (
        vae_diagnostics.whiten_codes, dict(z=_r(4, 2), reference=_r(6, 2, seed=1))),
    "genmodels.measure.vae_diagnostics.nearest_neighbour_distance": lambda: (
        vae_diagnostics.nearest_neighbour_distance, dict(queries=_r(4, 2), points=_r(6, 2, seed=1))),
    "genmodels.measure.vae_diagnostics.far_from_encodings_share": lambda: (
        vae_diagnostics.far_from_encodings_share, dict(samples=_r(4, 2), encodings=_r(6, 2, seed=1),
                                                       reference=_r(5, 2, seed=2), quantile=0.99)),
    "genmodels.measure.vae_diagnostics.encode_in_batches": lambda: (vae_diagnostics.encode_in_batches, dict(
        model=_vae(), x=_r(3, 1, 28, 28))),
    # the VAE objective (outside the training loop's hot path: whole functions of a batch)
    "genmodels.vae.VAE.encode": lambda: (_vae().encode, dict(x=_r(3, 1, 28, 28))),
    "genmodels.vae.VAE.decode": lambda: (_vae().decode, dict(z=_r(3, 2))),
    "genmodels.vae.squared_error_weight": lambda: (vae.squared_error_weight, dict(sigma=0.5)),
    "genmodels.vae.sigma_from_squared_error_weight": lambda: (vae.sigma_from_squared_error_weight, dict(alpha=2.0)),
    # autoencoders, models' constructors
    "genmodels.autoencoder.Autoencoder.encode": lambda: (_ae().encode, dict(x=_r(3, 1, 28, 28))),
    "genmodels.autoencoder.Autoencoder.decode": lambda: (_ae().decode, dict(z=_r(3, 2))),
    "genmodels.vae.MLPVAE": lambda: (vae.MLPVAE, dict(latent_dim=2, hidden=(8,), likelihood="gaussian", sigma=0.5)),
    "genmodels.rbm.BernoulliRBM": lambda: (rbm.BernoulliRBM, dict(n_visible=4, n_hidden=3, init_std=0.01)),
    "genmodels.lvm.PPCAPosteriorVAE": lambda: (lvm.PPCAPosteriorVAE, dict(ppca=_ppca(), mean_shift=0.0, logvar_shift=0.0)),
    "genmodels.toy.ring_mixture": lambda: (toy.ring_mixture, dict(radius=1.0, std=0.01)),
    "genmodels.toy.grid_mixture": lambda: (toy.grid_mixture, dict(spacing=2.0, std=0.05)),
    "genmodels.experiments.gibbs_mixing.mixing_closed_form": lambda: (gibbs_mixing.mixing_closed_form, dict(rho=0.5)),
    # data
    "genmodels.core.data.binarize": lambda: (data.binarize, dict(x=_r(3, 1, 4, 4))),
    # the classifier's measures (an untrained classifier: only the checks matter)
    "genmodels.measure.classifier.FashionClassifier.features": lambda: (_classifier().features, dict(x=_r(3, 1, 28, 28))),
    "genmodels.measure.classifier.FashionClassifier.probs": lambda: (_classifier().probs, dict(x=_r(3, 1, 28, 28))),
    "genmodels.measure.classifier.FashionClassifier.predict": lambda: (_classifier().predict, dict(x=_r(3, 1, 28, 28))),
    "genmodels.measure.sample_quality.classifier_frechet_distance": lambda: (
        sample_quality.classifier_frechet_distance, dict(images_a=_r(4, 1, 28, 28), images_b=_r(4, 1, 28, 28, seed=1),
                                                         classifier=_classifier())),
    "genmodels.measure.sample_quality.FrechetReference": lambda: (sample_quality.FrechetReference, dict(
        images=_r(4, 1, 28, 28), classifier=_classifier())),
    "genmodels.measure.sample_quality.FrechetReference.features_of": lambda: (
        sample_quality.FrechetReference(_r(4, 1, 28, 28), _classifier()).features_of, dict(images=_r(3, 1, 28, 28))),
    "genmodels.measure.vae_diagnostics.elbo_in_batches": lambda: (vae_diagnostics.elbo_in_batches, dict(
        model=_vae(), x=_r(3, 1, 28, 28))),
    "genmodels.measure.vae_diagnostics.iwae_in_batches": lambda: (vae_diagnostics.iwae_in_batches, dict(
        model=_vae(), x=_r(3, 1, 28, 28), k=2)),
    "genmodels.measure.vae_diagnostics.iwae_bounds_by_k": lambda: (vae_diagnostics.iwae_bounds_by_k, dict(
        model=_vae(), x=_r(3, 1, 28, 28), ks=(1, 2))),
    # plots' helpers
    "genmodels.show.plot.exponential_moving_average": lambda: (plot.exponential_moving_average, dict(
        values=[1.0, 2.0, 3.0], smooth=0.5)),
    "genmodels.show.plot.linear_interpolation": lambda: (plot.linear_interpolation, dict(
        z0=_r(2), z1=_r(2, seed=1), steps=3)),
    "genmodels.show.plot.spherical_interpolation": lambda: (plot.spherical_interpolation, dict(
        z0=_r(2), z1=_r(2, seed=1), steps=3)),
}

def _settings_example(cls):
    """A settings dataclass with every float field passed explicitly (its defaults)."""
    import dataclasses

    default = cls() if cls.__name__ != "GanConfig" else cls(name="x", label="x")
    floats = {f.name: getattr(default, f.name) for f in dataclasses.fields(cls)
              if isinstance(getattr(default, f.name), float)}
    base = {} if cls.__name__ != "GanConfig" else {"name": "x", "label": "x"}
    return lambda: (cls, {**base, **floats})


def _settings_classes() -> dict[str, Callable]:
    from genmodels.experiments import family_comparison, image_gan, rbm_digits, toy_gan, vae_fashion

    classes = (family_comparison.ComparisonSettings, image_gan.ImageGanSettings,
               rbm_digits.DigitsRBMSettings, toy_gan.GanConfig, toy_gan.ToyGanSettings,
               vae_fashion.FashionVAESettings)
    return {f"{c.__module__}.{c.__name__}": _settings_example(c) for c in classes}


EXAMPLES.update(_settings_classes())

HOT_LOOP = ("called once per training step: a finiteness check would force a host sync each "
            "step (CONTRIBUTING: no .item() in a hot loop); fit() names a NaN loss at the next "
            "flush instead, with its step and term")
MODULE_FORWARD = ("an nn.Module's forward, run in training steps: shape and dtype are checked "
                  "(test_an_input_of_another_dtype_than_the_model_is_named), NaN is not (" + HOT_LOOP + ")")
WHOLE_EXPERIMENT = ("an experiment of a chapter: it takes a data set and settings, checks them "
                    "with check_float_images and its settings' __post_init__, and calls the "
                    "functions above, which check the rest (tests/test_<experiment>.py)")
NOT_NUMERIC = "takes a callable or a plotting target, not numbers of its own; its tensors go to a checked function"
RESULT_RECORD = "a frozen record of results that the library builds itself, never user input"
SAMPLERS = ("draws samples from a checked model: its tensor argument is a start state or a "
            "reference tensor for dtype and device, checked where it is used")
CHECK_HELPERS = "is itself a check (its own tests give it bad input)"

# Functions that are not fed bad input here, each with the reason. A function added to the
# package fails test_every_public_function_is_covered until it is given an example or a reason.
SKIPPED: dict[str, str] = {
    **{f"genmodels.gan.{n}.forward": MODULE_FORWARD for n in
       ("DCGANDiscriminator", "DCGANGenerator", "MLPDiscriminator", "MLPGenerator", "MinibatchStdDev")},
    "genmodels.measure.classifier.FashionClassifier.forward": MODULE_FORWARD,
    "genmodels.vae.VAE.forward": MODULE_FORWARD,
    "genmodels.vae.VAE.decode_mean": MODULE_FORWARD,
    "genmodels.lvm.PPCAPosteriorVAE.encode": MODULE_FORWARD,
    "genmodels.lvm.PPCAPosteriorVAE.decode": MODULE_FORWARD,
    **{f"genmodels.gan.{n}": HOT_LOOP for n in (
        "discriminator_loss", "generator_loss_non_saturating", "generator_loss_saturating",
        "wasserstein_critic_loss", "wasserstein_generator_loss", "gradient_penalty", "check_logits",
        "value_function", "optimal_discriminator", "jensen_shannon", "generator_gradient_norm")},
    **{f"genmodels.vae.{n}": HOT_LOOP for n in (
        "reparameterize", "kl_to_standard_normal", "log_standard_normal", "log_diagonal_normal",
        "std_from_logvar", "standard_normal_like", "alpha_weighted_vae_loss",
        "bernoulli_log_likelihood", "gaussian_log_likelihood", "log_likelihood", "elbo_terms",
        "iwae_bound", "vae_step_loss", "train_with_adam")},
    **{f"genmodels.rbm.{n}": HOT_LOOP for n in (
        "contrastive_divergence_loss", "BernoulliRBM.gibbs_step", "BernoulliRBM.sample_hidden",
        "BernoulliRBM.sample_visible")},
    "genmodels.gan.train_gan": NOT_NUMERIC,
    "genmodels.core.train.fit": NOT_NUMERIC,
    "genmodels.core.train.minibatches": "takes any tensors (images, labels); an empty one is named (test_train.py)",
    "genmodels.core.train.fixed_step_minibatches": "takes any tensors; as minibatches",
    "genmodels.show.plot.interpolation_grid": NOT_NUMERIC,
    "genmodels.show.plot.decode_codes": NOT_NUMERIC,
    "genmodels.rbm.BernoulliRBM.gibbs_chain": SAMPLERS,
    "genmodels.rbm.BernoulliRBM.sample": SAMPLERS,
    "genmodels.measure.gan_monitor.SampleRecorder": SAMPLERS,
    "genmodels.nets.check_batch": CHECK_HELPERS,
    "genmodels.nets.check_latent": CHECK_HELPERS,
    "genmodels.core.validation.check_float": CHECK_HELPERS,
    "genmodels.core.validation.check_tensor": CHECK_HELPERS,
    "genmodels.core.validation.check_dtype_of_model": CHECK_HELPERS,
    "genmodels.core.validation.check_float_fields": CHECK_HELPERS,
    "genmodels.core.data.check_float_images": CHECK_HELPERS,
    "genmodels.autoencoder.Autoencoder.forward": MODULE_FORWARD,
    "genmodels.measure.classifier.train_fashion_classifier": "trains on Fashion-MNIST (minutes); its lr and seconds are checked by the loop's check_float",
    "genmodels.measure.classifier.classification_accuracy": "a trained classifier on labelled images: its images go through FashionClassifier.predict (above)",
    "genmodels.measure.sample_quality.FeatureClassifier.features": "a Protocol: the interface a classifier implements, no code",
    "genmodels.gan.make_gan_step": "builds the step; its settings are checked by _check_step_settings (test_gan.py), its tensors are the loop's",
    "genmodels.core.data.ImageDataset": RESULT_RECORD + " (built by the loaders from verified files)",
    "genmodels.core.data.to_float_images": "takes integer images: a NaN cannot occur; its dtype and shape checks have their tests in test_data.py",
    "genmodels.core.data.fetch_dataset_file": "timeout is checked (test_download.py); no tensor argument",
    "genmodels.core.data.load_fashion_mnist": "timeout is checked (test_download.py); no tensor argument",
    "genmodels.core.timing.ms_per_1000_samples": NOT_NUMERIC,
    "genmodels.core.train.History": RESULT_RECORD,
    "genmodels.show.plot.images_to_grid": "a plotting helper for any array-like images; its checks are in test_plot.py",
    "genmodels.show.plot.latent_scatter": NOT_NUMERIC,
    "genmodels.show.plot.loss_curves": NOT_NUMERIC,
    "genmodels.show.widgets.latent_explorer": NOT_NUMERIC,
    "genmodels.show.widgets.to_png": "turns an image the library produced into PNG bytes for a widget",
    "genmodels.experiments.gibbs_mixing.MixingClosedForm": RESULT_RECORD,
    "genmodels.experiments.gibbs_mixing.MixingMeasurement": RESULT_RECORD,
    "genmodels.experiments.gibbs_mixing.measure_mixing": WHOLE_EXPERIMENT + "; its rho goes to gibbs_bivariate_gaussian (above)",
    **{f"genmodels.experiments.family_comparison.{n}": WHOLE_EXPERIMENT for n in (
        "bernoulli_draw", "comparison_rbm", "likelihoods_on_test_images", "rows_of_shuffled_passes",
        "sample_quality", "samples_and_means", "train_gan_on_batches", "train_pcd_rbm",
        "train_vae_on_batches")},
    **{f"genmodels.experiments.image_gan.{n}": WHOLE_EXPERIMENT for n in (
        "frechet_distances_over_training", "reference_frechet_distances", "train_gan_recording_samples")},
    **{f"genmodels.experiments.rbm_digits.{n}": WHOLE_EXPERIMENT for n in (
        "data_log_odds", "gibbs_snapshots", "long_chain_free_energies", "rbm_with_data_log_odds",
        "train_large_rbms", "train_rbms_by_rule", "train_small_rbms")},
    "genmodels.measure.coverage.ClassCoverage": RESULT_RECORD,
    "genmodels.measure.sample_quality.ModeMetrics": RESULT_RECORD,
    "genmodels.experiments.toy_gan.ToyGanRun": RESULT_RECORD,
}


# Single cases not checked, each with the reason: (function, argument, case) -> reason.
NOT_CHECKED: dict[tuple[str, str, str], str] = {
    **{(f"genmodels.rbm.BernoulliRBM.{m}", arg, "nan"): "the Gibbs step and CD loss call it every update: " + HOT_LOOP
       for m, arg in (("energy", "v"), ("energy", "h"), ("hidden_probs", "v"), ("visible_probs", "h"),
                      ("free_energy", "v"))},
    ("genmodels.vae.VAE.encode", "x", "nan"): MODULE_FORWARD,
    ("genmodels.autoencoder.Autoencoder.encode", "x", "nan"): MODULE_FORWARD,
    ("genmodels.autoencoder.Autoencoder.decode", "z", "nan"): MODULE_FORWARD,
    ("genmodels.core.data.binarize", "x", "shape"): "binarises images of any shape: a stacked input is valid",
    ("genmodels.vae.VAE.decode", "z", "nan"): MODULE_FORWARD,
    ("genmodels.measure.gan_monitor.discriminator_accuracy", "real_logits", "nan"):
        "a per-step monitor that promises no host synchronisation",
    ("genmodels.measure.gan_monitor.discriminator_accuracy", "fake_logits", "nan"):
        "a per-step monitor that promises no host synchronisation",
    ("genmodels.gibbs.autocorrelation", "x", "shape"):
        "takes chains with any leading batch dimensions [..., n]: a stacked input is valid",
}


def test_every_public_function_is_covered():
    """Each discovered function has a valid example call here, or a reason to be skipped."""
    discovered = set(public_functions())
    missing = sorted(discovered - set(EXAMPLES) - set(SKIPPED))
    assert not missing, ("public functions that take numbers, with neither an example in "
                         f"EXAMPLES nor a reason in SKIPPED: {missing}")
    stale = sorted((set(EXAMPLES) | set(SKIPPED)) - discovered)
    assert not stale, f"entries for functions that no longer exist: {stale}"


def _bad_variants(value: object) -> dict[str, object]:
    """A NaN, a wrong dtype and a wrong shape of ``value`` (a tensor or a float)."""
    if isinstance(value, float):
        return {"nan": float("nan")}
    if not isinstance(value, torch.Tensor):
        return {}
    if value.is_floating_point():
        nan = value.clone()
        nan.view(-1)[0] = float("nan")
        return {"nan": nan, "dtype": value.to(torch.int64), "shape": torch.stack([value, value])}
    return {"dtype": value.to(torch.float32) + 0.5, "shape": torch.stack([value, value])}


CASES = [(name, arg, case) for name, make in EXAMPLES.items()
         for arg, value in make()[1].items() for case in _bad_variants(value)
         if (name, arg, case) not in NOT_CHECKED]


@pytest.mark.parametrize("name, arg, case", CASES, ids=[f"{n.removeprefix('genmodels.')}-{a}-{c}"
                                                        for n, a, c in CASES])
def test_every_public_function_names_its_argument(name, arg, case):
    fn, kwargs = EXAMPLES[name]()
    fn(**kwargs)  # the example itself is valid
    fn, kwargs = EXAMPLES[name]()
    kwargs[arg] = _bad_variants(kwargs[arg])[case]
    with pytest.raises((ValueError, TypeError)) as caught:
        fn(**kwargs)
    assert re.search(rf"\b{arg}\b", str(caught.value)), f"{name}({arg}=<{case}>): {caught.value}"

"""Tests of genmodels.show.plot: figures have the expected artists, interpolations are right."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402

from genmodels.core.train import History
from genmodels.show import plot


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _images_in(ax):
    return [a for a in ax.get_children() if isinstance(a, AxesImage)]


def decode_checker(z: torch.Tensor) -> torch.Tensor:
    """A fake decoder: a 4x4 image whose pixel value encodes sigmoid(z_0)."""
    return torch.sigmoid(z[:, :1]).reshape(-1, 1, 1, 1).expand(-1, 1, 4, 4)


def test_images_to_grid_layout():
    imgs = torch.stack([torch.full((1, 3, 3), v) for v in (0.0, 0.25, 0.5, 0.75, 1.0)])
    grid = plot.images_to_grid(imgs, nrow=2, padding=1, pad_value=-1.0)
    assert grid.shape == (3 * 4 + 1, 2 * 4 + 1, 1)
    # image i sits at row i // 2, column i % 2
    for i, v in enumerate((0.0, 0.25, 0.5, 0.75, 1.0)):
        r, c = divmod(i, 2)
        block = grid[1 + 4 * r : 4 + 4 * r, 1 + 4 * c : 4 + 4 * c, 0]
        assert np.all(block == v)
    assert np.all(grid[9:12, 5:8, 0] == -1.0)  # the missing 6th image is padding


def test_images_to_grid_scales_uint8():
    grid = plot.images_to_grid(torch.full((1, 2, 2), 255, dtype=torch.uint8), nrow=1, padding=0)
    assert grid.dtype == np.float32 and np.all(grid == 1.0)


def test_image_grid_draws_one_image():
    ax = plot.image_grid(torch.rand(10, 1, 28, 28), nrow=5, title="samples")
    assert len(_images_in(ax)) == 1
    assert ax.get_title() == "samples"
    ax_rgb = plot.image_grid(torch.rand(3, 3, 8, 8), nrow=3)
    assert _images_in(ax_rgb)[0].get_array().shape[-1] == 3


@pytest.mark.parametrize("shape", [(10, 28, 28, 1), (10, 2, 5, 5), (5,)])
def test_image_grid_bad_shape(shape):
    with pytest.raises(ValueError, match="images must have shape"):
        plot.image_grid(torch.rand(*shape))


def test_latent_scatter_one_entry_per_present_class():
    z = torch.randn(90, 2)
    labels = torch.arange(90) % 3
    ax = plot.latent_scatter(z, labels, ["shirt", "bag", "boot", "sandal"])
    assert len(ax.collections) == 3  # 'sandal' has no points
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["shirt", "bag", "boot"]
    with pytest.raises(ValueError, match="labels must lie in"):
        plot.latent_scatter(z, labels + 5, ["a", "b"])


def test_linear_interpolation_matches_closed_form():
    z0, z1 = torch.tensor([0.0, 2.0]), torch.tensor([4.0, -2.0])
    path = plot.linear_interpolation(z0, z1, 5)
    expected = torch.tensor([[0.0, 2.0], [1.0, 1.0], [2.0, 0.0], [3.0, -1.0], [4.0, -2.0]])
    assert torch.allclose(path, expected)
    batched = plot.linear_interpolation(torch.stack([z0, z1]), torch.stack([z1, z0]), 5)
    assert batched.shape == (2, 5, 2)
    assert torch.allclose(batched[1], expected.flip(0))


def test_spherical_interpolation_on_the_circle():
    """Between orthogonal unit vectors slerp walks the unit circle at constant speed:
    at t the point is (cos(t·π/2), sin(t·π/2))."""
    z0, z1 = torch.tensor([1.0, 0.0], dtype=torch.float64), torch.tensor([0.0, 1.0], dtype=torch.float64)
    path = plot.spherical_interpolation(z0, z1, 5)
    t = torch.linspace(0, 1, 5, dtype=torch.float64)
    expected = torch.stack([torch.cos(t * math.pi / 2), torch.sin(t * math.pi / 2)], 1)
    assert torch.allclose(path, expected, atol=1e-12)
    # norms are preserved between vectors of equal norm (here in 10 dimensions)
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(10, generator=g, dtype=torch.float64), torch.randn(10, generator=g, dtype=torch.float64)
    b = b / b.norm() * a.norm()
    norms = plot.spherical_interpolation(a, b, 7).norm(dim=1)
    assert torch.allclose(norms, a.norm().expand(7), rtol=1e-10)


def test_spherical_interpolation_parallel_falls_back_to_linear():
    z0 = torch.tensor([1.0, 1.0])
    path = plot.spherical_interpolation(z0, 3 * z0, 3)
    assert torch.allclose(path, torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]))
    assert torch.isfinite(path).all()


def test_interpolation_grid_decodes_the_right_number_of_codes():
    seen = []

    def decode(z):
        seen.append(z.shape)
        return decode_checker(z)

    ax = plot.interpolation_grid(decode, torch.zeros(3, 2), torch.ones(3, 2), steps=6, method="spherical")
    assert seen[-1] == (18, 2) and len(_images_in(ax)) == 1
    with pytest.raises(ValueError, match="'linear' or 'spherical'"):
        plot.interpolation_grid(decode, torch.zeros(2), torch.ones(2), method="cubic")
    with pytest.raises(ValueError, match=r"latent codes \[n, 2\] to images \[n, C, H, W\].*\(18, 4, 4\)"):
        plot.interpolation_grid(lambda z: decode(z)[:, 0], torch.zeros(3, 2), torch.ones(3, 2), steps=6)


def test_latent_grid_points_and_decoded_plane():
    pts = plot.latent_grid_points((-1, 1), (-2, 2), n=3)
    assert pts.shape == (9, 2)
    assert torch.allclose(pts[0], torch.tensor([-1.0, 2.0]))  # top-left
    assert torch.allclose(pts[-1], torch.tensor([1.0, -2.0]))  # bottom-right
    ax = plot.decode_latent_grid(decode_checker, n=4)
    assert len(_images_in(ax)) == 1
    assert _images_in(ax)[0].get_array().shape == (16, 16)  # 4 x 4 tiles of 4 px, no padding


def test_exponential_moving_average_closed_form():
    # constant input: the bias-corrected average is exactly the constant
    assert np.allclose(plot.exponential_moving_average([2.0] * 10, 0.9), 2.0)
    # hand-computed: v = [1, 0], smooth 0.5 -> m1 = 0.5/0.5 = 1, m2 = 0.25/0.75 = 1/3
    assert np.allclose(plot.exponential_moving_average([1.0, 0.0], 0.5), [1.0, 1 / 3])
    with pytest.raises(ValueError, match="smooth"):
        plot.exponential_moving_average([1.0], 1.0)


def test_loss_curves_from_history_and_dict():
    h = History(steps=list(range(20)), values={"loss": list(np.linspace(2, 1, 20)), "kl": [0.1] * 20})
    ax = plot.loss_curves(h)
    assert len(ax.get_lines()) == 2
    ax = plot.loss_curves(h, keys=["loss"], smooth=0.8)
    assert len(ax.get_lines()) == 2  # raw (faint) + smoothed
    ax = plot.loss_curves({"d_loss": [1.0, 0.5, 0.25]}, logy=True)
    assert len(ax.get_lines()) == 1 and ax.get_yscale() == "log"
    with pytest.raises(KeyError, match="available"):
        plot.loss_curves(h, keys=["elbo"])


def test_plot_functions_accept_an_axes_and_return_it():
    fig, ax = plt.subplots()
    assert plot.image_grid(torch.rand(2, 1, 4, 4), ax=ax) is ax
    assert len(fig.axes) == 1


def test_mode_benchmark_draws_every_seed_and_every_published_row():
    import matplotlib.pyplot as plt

    from genmodels.show.plot import mode_benchmark

    def result(label, modes, hq):
        per_seed = [{"modes_captured": m, "high_quality_share": h} for m, h in zip(modes, hq, strict=True)]
        return {"dataset": "ring", "label": label, "n_modes": 8, "per_seed": per_seed,
                "mean": {"modes_captured": sum(modes) / len(modes),
                         "high_quality_share": sum(hq) / len(hq)}}

    section = {"results": [result("a", [8, 7, 8], [0.9, 0.8, 0.95]), result("b", [2, 3, 2], [0.1] * 3)],
               "published": [{"dataset": "ring", "method": "P", "modes_captured": 7.9,
                              "high_quality_share": 0.956},
                             {"dataset": "grid", "method": "Q", "modes_captured": 24.8,
                              "high_quality_share": 0.9}]}
    ax = mode_benchmark(section, "ring")
    points = [c.get_offsets() for c in ax.collections]
    seeds = [p for p in points if len(p) == 3]
    assert len(seeds) == 2 and sorted(seeds[1][:, 1].round(1).tolist()) == [10.0, 10.0, 10.0]
    stars = [c for c in ax.collections if len(c.get_offsets()) == 1 and c.get_offsets()[0][0] == 7.9]
    assert len(stars) == 1 and "published P" in [t.get_text() for t in ax.texts]
    assert "published Q" not in [t.get_text() for t in ax.texts]  # the grid's row is not drawn
    with pytest.raises(ValueError, match="no results for dataset 'grid'"):
        mode_benchmark(section, "grid")
    plt.close("all")


def test_metrics_against_steps_draws_the_trajectory_and_the_variants_published_rows():
    import matplotlib.pyplot as plt

    from genmodels.show.plot import metrics_against_steps

    run = {"dataset": "ring", "variant": "wgan_gp", "name": "paper, 100 steps", "n_modes": 8,
           "trajectory": {"step": [50, 100], "modes_captured": [3, 6], "high_quality_share": [0.1, 0.4]}}
    published = [{"dataset": "ring", "variant": "wgan_gp", "method": "WGAN-GP", "modes_captured": 6.8,
                  "high_quality_share": 0.596},
                 {"dataset": "grid", "variant": "wgan_gp", "method": "WGAN-GP", "modes_captured": 24.2,
                  "high_quality_share": 0.287},
                 {"dataset": "ring", "variant": "pacgan", "method": "PacGAN2", "modes_captured": 7.9,
                  "high_quality_share": 0.956}]
    left, right = metrics_against_steps(run, published)
    assert left.lines[0].get_ydata().tolist() == [3, 6]
    assert right.lines[0].get_ydata().tolist() == pytest.approx([10.0, 40.0])
    assert [line.get_ydata()[0] for line in right.lines[1:]] == pytest.approx([59.6])  # its own row only
    assert [line.get_ydata()[0] for line in left.lines[1:]] == pytest.approx([6.8])
    with pytest.raises(ValueError, match="has no trajectory to draw"):
        metrics_against_steps({**run, "trajectory": {}})
    plt.close("all")

"""Tests of genmodels.show.widgets: the live explorer reacts to its sliders; the static one
embeds every pre-rendered image and needs no network."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
import torch
from PIL import Image

from genmodels.show import widgets


def decode_position(z: torch.Tensor) -> torch.Tensor:
    """A fake decoder whose 2x3 image encodes the code: left half sigmoid(z1), right half
    sigmoid(z2)."""
    left = torch.sigmoid(z[:, 0]).reshape(-1, 1, 1, 1).expand(-1, 1, 2, 2)
    right = torch.sigmoid(z[:, 1]).reshape(-1, 1, 1, 1).expand(-1, 1, 2, 1)
    return torch.cat([left, right], dim=3)


def _png_pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def test_to_png_round_trip_and_scale():
    img = torch.tensor([[[0.0, 1.0], [0.5, 0.25]]])
    px = _png_pixels(widgets.to_png(img))
    assert px.tolist() == [[0, 255], [128, 64]]
    big = _png_pixels(widgets.to_png(img, scale=3))
    assert big.shape == (6, 6) and big[0, 3] == 255 and big[5, 5] == 64
    with pytest.raises(ValueError, match="channels"):
        widgets.to_png(torch.zeros(2, 4, 4))


def test_static_explorer_holds_n_by_n_images_and_no_urls():
    html = widgets.static_latent_explorer_html(decode_position, ranges=((-2, 2), (-1, 1)), n=5)
    payloads = re.findall(r'"([A-Za-z0-9+/=]{20,})"', html)
    assert len(payloads) == 25 and len(set(payloads)) == 25
    assert not re.search(r"https?://", html)
    assert "<script" in html and html.count('type="range"') == 2
    assert 'max="4"' in html


def test_static_explorer_frames_are_at_the_right_codes():
    """Frame j*n + i must be the decoding of (xs[i], ys[j])."""
    n = 4
    html = widgets.static_latent_explorer_html(decode_position, ranges=((-2, 2), (-1, 3)), n=n)
    frames = re.findall(r'"([A-Za-z0-9+/=]{20,})"', html)
    xs, ys = np.linspace(-2, 2, n), np.linspace(-1, 3, n)
    for j in range(n):
        for i in range(n):
            px = _png_pixels(base64.b64decode(frames[j * n + i])).astype(float)
            assert abs(px[0, 0] - 255 / (1 + np.exp(-xs[i]))) <= 1
            assert abs(px[0, 2] - 255 / (1 + np.exp(-ys[j]))) <= 1


def test_static_explorer_is_reproducible_and_displayable():
    a = widgets.static_latent_explorer_html(decode_position, n=3)
    b = widgets.static_latent_explorer_html(decode_position, n=3)
    assert a == b
    obj = widgets.static_latent_explorer(decode_position, n=3)
    assert obj._repr_html_() == a


@pytest.mark.parametrize(
    "kwargs, match",
    [({"n": 1}, "n must be"), ({"ranges": ((1, 0), (0, 1))}, "min < max"), ({"ranges": (0, 1)}, "ranges must be")],
)
def test_static_explorer_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        widgets.static_latent_explorer_html(decode_position, **kwargs)


def test_static_explorer_rejects_a_bad_decoder():
    with pytest.raises(ValueError, match=r"images \[n, C, H, W\]"):
        widgets.static_latent_explorer_html(lambda z: z, n=3)


def test_live_explorer_redraws_when_a_slider_moves():
    box = widgets.latent_explorer(decode_position, ranges=((-3, 3), (-3, 3)), scale=1)
    sx, sy = box.sliders
    first = _png_pixels(box.image.value)
    assert first[0, 0] == 128 and first[0, 2] == 128  # starts at z = (0, 0)
    sx.value = 2.0
    px = _png_pixels(box.image.value)
    assert abs(int(px[0, 0]) - round(255 / (1 + np.exp(-2.0)))) <= 1
    assert px[0, 2] == 128
    sy.value = -3.0
    assert abs(int(_png_pixels(box.image.value)[0, 2]) - round(255 / (1 + np.exp(3.0)))) <= 1


def test_explorers_name_their_sliders_and_images():
    """Accessibility (issue 20): every slider and image has an accessible name; the static
    explorer's alt text and slider values follow the sliders."""
    box = widgets.latent_explorer(decode_position, scale=1)
    assert [s.description for s in box.sliders] == ["z₁", "z₂"]
    assert not any(s.tooltip for s in box.sliders) and not box.image.tooltip  # see latent_explorer
    html = widgets.static_latent_explorer_html(decode_position, n=3)
    alt = re.search(r'<img [^>]*alt="([^"]+)"', html).group(1)
    assert alt == "The image the decoder draws at the latent code z₁ = 0.00, z₂ = 0.00."
    assert html.count('aria-valuetext="0.00"') == 2
    assert "img.alt = " in html and 'setAttribute("aria-valuetext"' in html
    assert re.findall(r"<label>z&#832[12]; <input", html)  # each range input inside its label

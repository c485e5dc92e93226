"""Latent-space explorers: a live ipywidgets version and a static one for the website.

Both take a decoder ``decode_fn(z [n, 2]) -> images [n, C, H, W]`` with values in
``[0, 1]`` (e.g. ``lambda z: torch.sigmoid(model.decode(z))``) and show the image decoded
at the code chosen with two sliders.

- :func:`latent_explorer` needs a running kernel: each slider move decodes one image.
- :func:`static_latent_explorer` decodes a grid of codes ahead of time and returns HTML
  with two ``<input type="range">`` sliders and a few lines of inline JavaScript that swap
  between embedded base64 PNGs. It makes no external request, so it works on the offline
  website, in nbviewer, and in a notebook whose kernel is gone.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from typing import Any

import numpy as np
import torch

from genmodels.core.validation import check_int
from genmodels.show.plot import DecodeFn, decode_codes

__all__ = ["latent_explorer", "static_latent_explorer", "static_latent_explorer_html", "to_png"]

Range = tuple[float, float]


def to_png(image: torch.Tensor | np.ndarray, scale: int = 1) -> bytes:
    """Encode one image ``[C, H, W]`` or ``[H, W]`` with values in ``[0, 1]`` as PNG bytes,
    enlarged ``scale`` times with nearest-neighbour pixels."""
    from PIL import Image

    arr = image.detach().float().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image, np.float32)
    if arr.ndim == 3:
        if arr.shape[0] not in (1, 3):
            raise ValueError(f"image must have 1 or 3 channels first ([C, H, W]), got shape {arr.shape}.")
        arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
    elif arr.ndim != 2:
        raise ValueError(f"image must have shape [C, H, W] or [H, W], got {arr.shape}.")
    pixels = (np.clip(arr, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    img = Image.fromarray(pixels)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _check_ranges(ranges: Any) -> tuple[Range, Range]:
    try:
        (x0, x1), (y0, y1) = ranges
    except (TypeError, ValueError) as err:
        raise ValueError(f"ranges must be ((z1_min, z1_max), (z2_min, z2_max)), got {ranges!r}.") from err
    if not (x0 < x1 and y0 < y1):
        raise ValueError(f"each range must be (min, max) with min < max, got {ranges!r}.")
    return (float(x0), float(x1)), (float(y0), float(y1))


def latent_explorer(
    decode_fn: DecodeFn,
    ranges: Any = ((-3.0, 3.0), (-3.0, 3.0)),
    step: float = 0.05,
    scale: int = 6,
    device: torch.device | str | None = None,
):
    """A live explorer of a 2-D latent space: two sliders for ``(z_1, z_2)`` and the image
    decoded there. Needs a running Jupyter kernel (on the static website use
    :func:`static_latent_explorer`).

    Returns an ``ipywidgets.VBox``; its ``.sliders`` and ``.image`` attributes give access to
    the two ``FloatSlider`` and the ``Image`` widgets.
    """
    import ipywidgets as w

    (x0, x1), (y0, y1) = _check_ranges(ranges)
    # Accessible names (issue 20): the description names each slider; the site's extension ties
    # it to the slider handle and gives the image an alt text from the sliders' values. (A
    # tooltip on these widgets makes the vendored widget manager fail to draw the explorer.)
    sx = w.FloatSlider(value=float(np.clip(0.0, x0, x1)), min=x0, max=x1, step=step, description="z₁",
                       continuous_update=True)
    sy = w.FloatSlider(value=float(np.clip(0.0, y0, y1)), min=y0, max=y1, step=step, description="z₂",
                       continuous_update=True)
    image = w.Image(format="png")

    def redraw(_change: Any = None) -> None:
        z = torch.tensor([[sx.value, sy.value]], dtype=torch.float32, device=device)
        image.value = to_png(decode_codes(decode_fn, z)[0], scale=scale)

    sx.observe(redraw, names="value")
    sy.observe(redraw, names="value")
    redraw()
    box = w.VBox([image, sx, sy])
    box.sliders = (sx, sy)
    box.image = image
    return box


def _explorer_alt(z1: float | str, z2: float | str) -> str:
    """The explorer image's alt text (kept up to date by its script as the sliders move)."""
    if not isinstance(z1, str):
        z1, z2 = f"{z1:.2f}", f"{z2:.2f}"
    return f"The image the decoder draws at the latent code z₁ = {z1}, z₂ = {z2}."


def static_latent_explorer_html(
    decode_fn: DecodeFn,
    ranges: Any = ((-3.0, 3.0), (-3.0, 3.0)),
    n: int = 13,
    scale: int = 5,
    device: torch.device | str | None = None,
) -> str:
    """HTML for :func:`static_latent_explorer`: ``n × n`` decodings on a regular grid over
    ``ranges``, embedded as base64 PNGs, with two range sliders and inline JavaScript.

    The page holds ``n*n`` images (a few hundred bytes each at 28×28); nothing is fetched
    from the network. The element id is derived from the content, so re-running a notebook
    gives identical output.
    """
    check_int(n, "n", minimum=2, hint="grid points per axis")
    (x0, x1), (y0, y1) = _check_ranges(ranges)
    xs = torch.linspace(x0, x1, n)
    ys = torch.linspace(y0, y1, n)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")  # frame j*n + i is (xs[i], ys[j])
    z = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1).to(device or "cpu")
    images = decode_codes(decode_fn, z).cpu()
    frames = [base64.b64encode(to_png(img, scale=1)).decode("ascii") for img in images]
    h, w = images.shape[-2:]
    uid = "gm-explorer-" + hashlib.sha1("".join(frames).encode()).hexdigest()[:10]
    mid = n // 2
    start = mid * n + mid
    xs_list = [round(float(v), 4) for v in xs]
    ys_list = [round(float(v), 4) for v in ys]
    return f"""<div id="{uid}" class="genmodels-latent-explorer" style="display:inline-block;font-family:sans-serif;font-size:14px">
<img id="{uid}-img" alt="{_explorer_alt(xs_list[mid], ys_list[mid])}" width="{w * scale}" height="{h * scale}"
 style="image-rendering:pixelated;image-rendering:crisp-edges;border:1px solid #ccc;display:block"
 src="data:image/png;base64,{frames[start]}">
<div><label>z&#8321; <input id="{uid}-x" type="range" min="0" max="{n - 1}" step="1" value="{mid}" aria-valuetext="{xs_list[mid]:.2f}"></label>
 <span id="{uid}-xv">{xs_list[mid]:.2f}</span></div>
<div><label>z&#8322; <input id="{uid}-y" type="range" min="0" max="{n - 1}" step="1" value="{mid}" aria-valuetext="{ys_list[mid]:.2f}"></label>
 <span id="{uid}-yv">{ys_list[mid]:.2f}</span></div>
<script>
(function () {{
  var frames = {json.dumps(frames)};
  var xs = {json.dumps(xs_list)}, ys = {json.dumps(ys_list)}, n = {n};
  var id = "{uid}";
  var img = document.getElementById(id + "-img");
  var sx = document.getElementById(id + "-x"), sy = document.getElementById(id + "-y");
  var vx = document.getElementById(id + "-xv"), vy = document.getElementById(id + "-yv");
  function show() {{
    var i = parseInt(sx.value, 10), j = parseInt(sy.value, 10);
    img.src = "data:image/png;base64," + frames[j * n + i];
    img.alt = "{_explorer_alt("X", "Y")}".replace("X", xs[i].toFixed(2)).replace("Y", ys[j].toFixed(2));
    vx.textContent = xs[i].toFixed(2);
    vy.textContent = ys[j].toFixed(2);
    sx.setAttribute("aria-valuetext", vx.textContent);
    sy.setAttribute("aria-valuetext", vy.textContent);
  }}
  sx.addEventListener("input", show);
  sy.addEventListener("input", show);
}})();
</script>
</div>"""


def static_latent_explorer(
    decode_fn: DecodeFn,
    ranges: Any = ((-3.0, 3.0), (-3.0, 3.0)),
    n: int = 13,
    scale: int = 5,
    device: torch.device | str | None = None,
):
    """A pre-rendered latent explorer that works without a kernel (e.g. on the website).

    Returns an ``IPython.display.HTML`` object (display it as a cell's last expression);
    see :func:`static_latent_explorer_html` for the arguments.
    """
    from IPython.display import HTML

    return HTML(static_latent_explorer_html(decode_fn, ranges=ranges, n=n, scale=scale, device=device))

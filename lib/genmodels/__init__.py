"""genmodels — the tested PyTorch code behind the course
"Generative Models — from latent variables to GANs".

Each function that implements an equation of the book is named after what it computes
and cites the equation's label (e.g. ``eq-kl-closed-form``) in its docstring.
Import submodules explicitly (``from genmodels import vae``); this package import is
kept light so that ``import genmodels`` is fast.
"""

__version__ = "0.1.0"

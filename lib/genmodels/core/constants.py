"""Numerical constants shared by the models.

``LOG_2PI`` = log 2π, the normalising constant of a Gaussian density:
log N(x; μ, σ²) = −½ (log 2π + log σ² + (x − μ)²/σ²).
"""

from __future__ import annotations

import math

LOG_2PI = math.log(2 * math.pi)

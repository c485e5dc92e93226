"""Probe (not part of the book): does WGAN-GP on the ring depend on the latent dimension?
The paper configuration of the search (Algorithm 1), latent 2 (the search) vs 256 (GDPP's code)."""
import json
import sys
import time
from dataclasses import replace

import torch

from genmodels.bench import gan_search
from genmodels.experiments import toy_gan

torch.set_num_threads(1)

latent = int(sys.argv[1])
steps = int(sys.argv[2])
c = gan_search.first_candidates("wgan_gp", "ring")[3]
settings = replace(c.settings, latent_dim=latent, steps=steps)
t = time.perf_counter()
run = toy_gan.train_toy_gan("ring", c.config, settings, seed=100, record_every=steps // 5)
out = {"latent": latent, "steps": steps, "metrics": str(run.metrics), "trajectory": getattr(run, "trajectory", None), "seconds": time.perf_counter() - t}
print(json.dumps(out, default=str))

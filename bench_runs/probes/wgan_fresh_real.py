"""Probe (not part of the book): WGAN-GP's Algorithm 1 with a fresh real batch for every
critic update (the library's step reuses one real batch for the k updates); the search's
"paper" configuration otherwise (networks of the ring, Adam 1e-4, betas (0, 0.9), 5 critic
steps, batch 64, lambda 10, constant lr), seed 100."""
import json
import sys
import time

import torch

from genmodels import gan
from genmodels.bench import gan_search
from genmodels.core.device import seed_everything
from genmodels.experiments.toy_gan import MIXTURES, build_toy_gan, generate, sample_mixture_on
from genmodels.measure.sample_quality import mode_metrics

torch.set_num_threads(1)

dataset, steps = sys.argv[1], int(sys.argv[2])
cand = gan_search.first_candidates("wgan_gp", dataset)[3]
config, s = cand.config, cand.settings
generator = seed_everything(100)
G, D = build_toy_gan(config, s, dataset)
opt_g = torch.optim.Adam(G.parameters(), lr=s.lr, betas=config.adam_betas(s))
opt_d = torch.optim.Adam(D.parameters(), lr=s.lr, betas=config.adam_betas(s))
mixture = MIXTURES[dataset]()
cpu = torch.device("cpu")
traj, t = [], time.perf_counter()
for i in range(1, steps + 1):
    for _ in range(config.k_critic):
        real = sample_mixture_on(mixture, s.batch, cpu, generator)
        with torch.no_grad():
            fake = G(gan.sample_latent(s.batch, s.latent_dim, cpu, generator))
        loss = gan.wasserstein_critic_loss(D(real), D(fake)) + 10 * gan.gradient_penalty(D, real, fake, generator)
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()
    D.requires_grad_(False)
    g_loss = gan.wasserstein_generator_loss(D(G(gan.sample_latent(s.batch, s.latent_dim, cpu, generator))))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    D.requires_grad_(True)
    if i % (steps // 6) == 0:
        m = mode_metrics(generate(G, 2500, s.latent_dim, generator), mixture)
        traj.append((i, m.modes_captured, round(100 * m.high_quality_share, 2)))
        print(traj[-1], flush=True)
print(json.dumps({"dataset": dataset, "steps": steps, "trajectory": traj, "seconds": time.perf_counter() - t}))

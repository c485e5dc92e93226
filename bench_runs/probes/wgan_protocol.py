"""Probe (not part of the book): WGAN-GP on the ring with the networks and learning rates of
GDPP's code for these mixtures (M-Elfeki/GDPP, gdppgan_Synthetic.py): 2x128 tanh MLPs,
orthogonal init (gain 1.4), z of 256 dimensions, batch 512, Adam beta1 0.5, generator lr 1e-3,
critic lr 1e-4
WGAN-GP losses of the library (lambda 10), n_critic from argv."""
import json
import sys
import time

import torch
from torch import nn

from genmodels import gan
from genmodels.core.device import seed_everything
from genmodels.experiments.toy_gan import MIXTURES, generate, sample_mixture_on
from genmodels.measure.sample_quality import mode_metrics

torch.set_num_threads(1)

dataset, steps, n_critic = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
Z = 256

def mlp(d_in, d_out):
    net = nn.Sequential(nn.Linear(d_in, 128), nn.Tanh(), nn.Linear(128, 128), nn.Tanh(), nn.Linear(128, d_out))
    for m in net:
        if isinstance(m, nn.Linear):
            nn.init.orthogonal_(m.weight, gain=1.4)
            nn.init.zeros_(m.bias)
    return net

class Critic(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = mlp(2, 1)
    def forward(self, x):
        return self.net(x).squeeze(-1)

generator = seed_everything(100)
G, D = mlp(Z, 2), Critic()
opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.5, 0.999))
step = gan.make_gan_step(G, D, opt_g, opt_d, Z, loss="wgan-gp", k_critic=n_critic, generator=generator)
mixture = MIXTURES[dataset]()
traj = []
t = time.perf_counter()
for i in range(1, steps + 1):
    step(sample_mixture_on(mixture, 512, torch.device("cpu"), generator))
    if i % (steps // 10) == 0:
        m = mode_metrics(generate(G, 2500, Z, generator), mixture)
        traj.append((i, m.modes_captured, round(100 * m.high_quality_share, 2)))
        print(traj[-1], flush=True)
print(json.dumps({"dataset": dataset, "steps": steps, "n_critic": n_critic, "trajectory": traj,
                  "seconds": time.perf_counter() - t}))

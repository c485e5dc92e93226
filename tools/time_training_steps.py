"""Milliseconds per training step of the book's image models, at the chapters' settings.

    python tools/time_training_steps.py [--device cuda] [--steps 1000]

Times chapter 8's MLP GAN and DCGAN (``genmodels.experiments.image_gan.ImageGanSettings``) per step
and chapter 6's VAE (``genmodels.experiments.vae_fashion.FashionVAESettings``, model ``vae16``) per epoch on
Fashion-MNIST, after a short warm-up, with the device synchronised around each timing and
one CPU thread (as the book's build runs the chapters). Prints each figure and the
training time it implies for the chapter's budget on that device (``budget_for``).
"""

from __future__ import annotations

import argparse
import sys

import torch

from genmodels import gan, vae
from genmodels.bench.sections import fashion_mnist_images
from genmodels.core.device import describe_device, pick_device, seed_everything
from genmodels.core.timing import Stopwatch
from genmodels.experiments import image_gan, vae_fashion


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: best).")
    parser.add_argument("--steps", type=int, default=500, help="timed steps per GAN.")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads.")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1.")
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    x_train, *_ = fashion_mnist_images(device)
    print(describe_device(device))
    s = image_gan.ImageGanSettings()
    gans = {"MLP GAN": (s.mlp_steps(device),
                        lambda: gan.mlp_gan_players(s.latent_dim, device, s.mlp_hidden)),
            "DCGAN": (s.dcgan_steps(device),
                      lambda: gan.dcgan_players(s.latent_dim, device, s.channels))}
    for name, (budget, players) in gans.items():
        generator = seed_everything(0)
        G, D = players()
        image_gan.train_gan_recording_samples(G, D, x_train, 30, s, generator)  # warm-up
        with Stopwatch(device) as watch:  # synchronises a GPU at both ends
            image_gan.train_gan_recording_samples(G, D, x_train, args.steps, s, generator)
        ms = 1000 * watch.wall / args.steps
        print(f"{name}: {ms:.2f} ms/step; chapter budget {budget} steps -> "
              f"{ms * budget / 1000:.0f} s of training", flush=True)
    vs = vae_fashion.FashionVAESettings()
    generator = seed_everything(0)
    model = vae.MLPVAE(vs.latent_dim, vs.hidden).to(device)
    vae.train_with_adam(model, x_train[:2560], 1, vs, generator)  # warm-up
    with Stopwatch(device) as watch:
        vae.train_with_adam(model, x_train, 1, vs, generator)
    seconds, epochs = watch.wall, vs.epochs(device)
    print(f"VAE (chapter 6's vae16): {seconds:.2f} s/epoch; chapter budget {epochs} epochs -> "
          f"{seconds * epochs:.0f} s of training")
    return 0


if __name__ == "__main__":
    sys.exit(main())

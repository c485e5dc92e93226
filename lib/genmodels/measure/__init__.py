"""Measuring models and samples: sample quality (mode coverage, Fréchet distance), class
coverage of samples, diagnostics of a trained VAE, the Fashion-MNIST classifier that judges
images, and what a chapter watches while a GAN trains."""

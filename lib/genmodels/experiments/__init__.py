"""The chapters' experiments, one module per experiment, shared by a chapter and the
benchmark so that both run the same code with the same settings:

================== ==============================================================
module             experiment
================== ==============================================================
gibbs_mixing       mixing of the Gibbs sampler against the correlation ρ
rbm_digits         RBMs on the digits: CD-k against PCD, long chains, snapshots
vae_fashion        the VAE on Fashion-MNIST: settings of training and evaluation
image_gan          an MLP GAN and a DCGAN on Fashion-MNIST
toy_gan            GANs on the ring and the grid: mode collapse and its remedies
family_comparison  a VAE, a GAN and an RBM on the same data with the same budget
================== ==============================================================

Modules are named after the experiment, not the chapter, so that renumbering chapters
renames nothing here.
"""

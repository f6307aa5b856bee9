"""Drag optimisation, point tracking and GAN inversion on a StyleGAN2 generator."""

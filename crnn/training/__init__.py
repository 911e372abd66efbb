"""Training: the per-epoch loop, AMP, checkpoints and the run driver."""

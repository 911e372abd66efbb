"""Hyperparameter search: Ray Tune + Optuna (TPE) + ASHA over the crnn training function."""

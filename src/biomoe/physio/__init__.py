"""Physiological features of raw windows (neurokit2): pretraining targets and a baseline."""

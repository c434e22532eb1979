"""Multi-task pretraining of the Tiny-BioMoE backbone on simulated biosignal images."""

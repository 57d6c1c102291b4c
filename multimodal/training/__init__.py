"""Pretraining: configs, the step-indexed data stream, the Lightning module and the run driver."""

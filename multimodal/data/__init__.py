"""Training data: turning logs into samples with correspondences, computed in dataloader workers."""

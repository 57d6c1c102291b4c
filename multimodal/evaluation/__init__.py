"""What the encoders learned: linear probe, few-shot episodes, kNN, pictures."""

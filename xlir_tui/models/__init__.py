"""Models: encoders, their inference backends, the embedded defaults, translation models."""

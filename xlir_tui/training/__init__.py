"""Training: settings, batch samplers, the trainer and its run folder."""

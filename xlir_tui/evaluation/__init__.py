"""Evaluation: LAReQA metrics, paired comparisons, scoring a model, reports and their renderings."""

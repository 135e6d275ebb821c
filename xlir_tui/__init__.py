"""xlir-tui: explore, measure and reduce language bias in multilingual dense retrieval."""

__version__ = "0.1.0"

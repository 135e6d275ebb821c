"""Data: parallel QA collections, where to get them, sentence segmentation."""

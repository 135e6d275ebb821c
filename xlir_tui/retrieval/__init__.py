"""Retrieval: ranking, the dense index, lexical retrievers, language-bias remedies, systems and
their registry."""

"""The relevance set: a fixture corpus of experts and labelled queries about it."""

"""Analyses over a model or a bundle: what would not compile, and where accuracy goes."""

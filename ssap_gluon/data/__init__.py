"""Datasets on disk -> augmented samples (see docs/DESIGN.md for the sample contract)."""

"""Compiled extensions built from ``csrc/*.pyx`` by ``setup.py``."""

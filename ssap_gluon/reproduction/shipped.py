"""The shipped SynthCity model (``models/synthcity_r18/``): the embedded default's
weights, trained by the project's own ``scripts/train.py`` and stored in float16.

Beside the weights: ``config.yaml`` (the training config), ``metrics.jsonl``
(the training log), ``README.md`` (the exact command, the commit it was trained
with, its SynthCity val scores) and ``SHA256SUMS`` (checked before use).
"""
import hashlib
import os

from .engine import SHIPPED_DIR, SHIPPED_WEIGHTS

__all__ = ["ShippedModelError", "verify_shipped", "checksums"]

SUMS_FILE = "SHA256SUMS"


class ShippedModelError(FileNotFoundError):
    """The shipped model is missing or its checksum does not match."""


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def checksums(repo):
    """``{file name: sha256}`` recorded in ``models/synthcity_r18/SHA256SUMS``."""
    path = os.path.join(repo, SHIPPED_DIR, SUMS_FILE)
    if not os.path.isfile(path):
        raise ShippedModelError("%s not found: the shipped SynthCity model is incomplete "
                                "(check out the whole repository, models/ included)" % path)
    sums = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                digest, name = line.split()
                sums[name.lstrip("*")] = digest
    return sums


def verify_shipped(repo):
    """The shipped weights' path after checking every recorded checksum."""
    sums = checksums(repo)
    for name, digest in sorted(sums.items()):
        path = os.path.join(repo, SHIPPED_DIR, name)
        if not os.path.isfile(path):
            raise ShippedModelError("%s not found (listed in %s)" % (path, SUMS_FILE))
        if _sha256(path) != digest:
            raise ShippedModelError("%s does not match its SHA-256 in %s (a partial checkout or "
                                    "a changed file; restore it with git checkout)" % (path, SUMS_FILE))
    return os.path.join(repo, SHIPPED_WEIGHTS)

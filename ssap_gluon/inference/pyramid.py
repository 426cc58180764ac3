"""The network's two branches per pyramid level, indexed by stride.

:class:`Pyramid` replaces positional output tuples everywhere the levels are
read (the loss, validation, inference): ``pyr.semantic_at(16)`` is the 1/16
semantic map whatever the order of ``AFFINITY.STRIDES``. It holds any arrays:
the network's logits (NDArrays ``(B, C or r*r, h, w)``), their probabilities,
or one image's numpy probabilities ``(C or r*r, h, w)`` as the cascade takes
them. No mxnet import here: the graph side uses it too.
"""
from dataclasses import dataclass, field
from typing import List, Tuple

__all__ = ["Pyramid", "split_outputs"]


@dataclass
class Pyramid:
    """Per-level semantic and affinity maps, finest level first.

    strides : increasing output strides of the levels (e.g. 4, 8, ..., 64).
    semantic : one map per stride, or ``[]`` (affinity-only network).
    affinity : one map per stride (``None`` for a level not predicted /
        not used), or ``[]`` (semantic-only network).
    """

    strides: Tuple[int, ...]
    semantic: List = field(default_factory=list)
    affinity: List = field(default_factory=list)

    def __post_init__(self):
        self.strides = tuple(int(s) for s in self.strides)
        for name in ("semantic", "affinity"):
            maps = list(getattr(self, name))
            if maps and len(maps) != len(self.strides):
                raise ValueError("Pyramid: %d %s maps for %d strides %r"
                                 % (len(maps), name, len(self.strides), list(self.strides)))
            setattr(self, name, maps)

    @property
    def has_semantic(self):
        return bool(self.semantic)

    @property
    def has_affinity(self):
        return bool(self.affinity)

    def _index(self, stride):
        try:
            return self.strides.index(int(stride))
        except ValueError:
            raise KeyError("no pyramid level of stride %r (levels: %r)"
                           % (stride, list(self.strides))) from None

    def semantic_at(self, stride):
        if not self.semantic:
            raise KeyError("this pyramid has no semantic maps (an affinity-only network)")
        return self.semantic[self._index(stride)]

    def affinity_at(self, stride):
        if not self.affinity:
            raise KeyError("this pyramid has no affinity maps (a semantic-only network)")
        return self.affinity[self._index(stride)]

    @property
    def finest(self):
        return self.strides[0]

    def map(self, semantic_fn=None, affinity_fn=None):
        """A new Pyramid with ``fn`` applied to every map of a branch (``None``
        entries stay ``None``; a branch without ``fn`` is shared)."""
        def apply(fn, maps):
            if fn is None:
                return list(maps)
            return [None if m is None else fn(m) for m in maps]
        return Pyramid(self.strides, apply(semantic_fn, self.semantic),
                       apply(affinity_fn, self.affinity))


def split_outputs(outputs, strides, has_semantic=True, has_affinity=True):
    """The network's flat output tuple -> :class:`Pyramid`.

    The flat order (what a hybridized or exported network returns) is the
    semantic logits of every level, fine to coarse, then the affinity logits of
    every level; a single-task network returns one group.
    """
    outputs = list(outputs)
    n = len(strides)
    expected = n * (int(has_semantic) + int(has_affinity))
    if len(outputs) != expected:
        raise ValueError("expected %d network outputs (%d levels, semantic=%s, affinity=%s), "
                         "got %d" % (expected, n, has_semantic, has_affinity, len(outputs)))
    return Pyramid(strides, outputs[:n] if has_semantic else [],
                   outputs[-n:] if has_affinity else [])

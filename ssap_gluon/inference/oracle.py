"""Ground truth as a prediction pyramid: what a perfect network would output.

``oracle_pyramid`` turns a frame's labels into the probability pyramid the
cascade takes: one-hot semantic probabilities at every level (labels sampled
at level pixel ``s*i``, docs/MODEL.md §3) and the exact affinity pyramid of
:mod:`ssap_gluon.targets` (1 = same instance, 0 otherwise, 0 where a pair is
masked). With levels down to full resolution (strides 1, 2, 4, ..., 64) the
cascade, the assembly and the evaluators reproduce the ground truth -- except
instances an occluder split into parts that no window pair of any level
connects: the round trip that checks every piece between the network and the
official scores. At the network's resolution (finest 1/4) small and thin
instances cannot survive the 1/4 grid: that oracle measures the resolution's
ceiling (``scripts/oracle_study.py``). ``noisy_pyramid`` perturbs the
affinities, as the noise study and ``scripts/bench_cascade.py`` use.
"""
import numpy as np

from ..targets import affinity_pyramid_targets
from .pyramid import Pyramid

__all__ = ["oracle_pyramid", "noisy_pyramid"]


def oracle_pyramid(semantic, instance, strides, window, num_classes, thing_classes,
                   geometry=None, ignore_label=255):
    """The probability pyramid of ground-truth ``semantic`` / ``instance`` maps
    (H, W) (the sample contract: train ids, instance ids > 0, -1 masked).

    ``geometry``: the frame's eval geometry (padding to the size divisor); the
    labels are warped through it first, as the image would be. Returns a
    :class:`Pyramid` of float32 numpy maps.
    """
    semantic = np.asarray(semantic, np.int32)
    instance = np.asarray(instance, np.int32)
    if geometry is not None:
        from ..data.labels import INSTANCE_IGNORE
        from ..data.transforms import warp_labels

        semantic = warp_labels(semantic, geometry, ignore_label)
        instance = warp_labels(instance, geometry, INSTANCE_IGNORE)
    sem_levels = []
    for s in strides:
        lab = semantic[::s, ::s]
        probs = np.zeros((num_classes,) + lab.shape, np.float32)
        ys, xs = np.nonzero(lab != ignore_label)
        probs[lab[ys, xs], ys, xs] = 1.0
        sem_levels.append(probs)
    targets = affinity_pyramid_targets(semantic, instance, window, strides, thing_classes,
                                       ignore_label)
    aff_levels = [t.astype(np.float32) for t, _ in targets]
    return Pyramid(strides, sem_levels, aff_levels)


def noisy_pyramid(pyramid, sigma, rng):
    """``clip(affinity + N(0, sigma), 0, 1)`` at every level (semantic unchanged)."""
    if sigma <= 0:
        return pyramid
    return pyramid.map(None, lambda a: np.clip(a + rng.normal(0.0, sigma, a.shape), 0.0, 1.0)
                       .astype(np.float32))

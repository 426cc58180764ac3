"""How SynthCity surfaces look: noise textures, :class:`Style`, colour samplers, haze.

Everything that decides a colour lives here; *where* something is painted is
decided by the objects, the street layout and the :class:`~.canvas.Canvas`.
"""
import colorsys

import cv2
import numpy as np

def _smooth_noise(rng, height, width, cell):
    """Zero-mean, unit-std noise with features about ``cell`` pixels wide."""
    small = rng.standard_normal((height // cell + 3, width // cell + 3)).astype(np.float32)
    big = cv2.resize(small, (width + 3 * cell, height + 3 * cell), interpolation=cv2.INTER_CUBIC)
    big = big[cell:cell + height, cell:cell + width]
    return (big - big.mean()) / (big.std() + 1e-6)


# Noise fields are cut from a per-process bank made from a fixed seed (the bank is
# part of the generator, like its colour tables): drawing ~1M normals per frame
# cost more than everything else. Each frame takes crops at offsets (and flips)
# drawn from its own generator, so output still depends only on the arguments.
_NOISE_BANK_SEED = 0x5C17C
_noise_banks = {}


def _noise_bank(height, width):
    key = (height, width)
    if key not in _noise_banks:
        rng = np.random.default_rng(_NOISE_BANK_SEED)
        bh, bw = height + max(64, height // 2), width + max(64, width // 2)
        _noise_banks[key] = {
            "grain": rng.standard_normal((bh, bw), dtype=np.float32),   # per-pixel grain
            "blotch": _smooth_noise(rng, bh, bw, 5),                    # paint wear, leaves
            "cloud": _smooth_noise(rng, bh, bw, 24),                    # sky
            "light": _smooth_noise(rng, bh, bw, 48),                    # uneven lighting
        }
    return _noise_banks[key]


def noise_crop(rng, height, width, kind):
    """A (height, width) window of a bank field at a random offset and flip."""
    field = _noise_bank(height, width)[kind]
    oy = int(rng.integers(0, field.shape[0] - height + 1))
    ox = int(rng.integers(0, field.shape[1] - width + 1))
    crop = field[oy:oy + height, ox:ox + width]
    flip = int(rng.integers(0, 4))
    return crop[::1 if flip & 1 else -1, ::1 if flip & 2 else -1]

class Style:
    """Colour (RGB 0..255) and texture strength of one part of an object."""
    __slots__ = ("color", "mid", "fine")

    def __init__(self, color, mid=0.08, fine=5.0):
        self.color = np.minimum(np.maximum(np.asarray(color, np.float32), 0), 255)
        self.mid = float(mid)      # multiplicative blotches (paint wear, foliage)
        self.fine = float(fine)    # additive grain in grey levels

    def shaded(self, factor):
        return Style(self.color * factor, self.mid, self.fine)

def hsv(h, s, v):
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(1.0, max(0.0, s)), min(1.0, max(0.0, v)))
    return np.array([r, g, b], np.float32) * 255.0


def vehicle_color(rng):
    """Mostly greys, whites and blacks like real traffic; the rest any hue."""
    if rng.random() < 0.55:
        return hsv(rng.random(), rng.uniform(0, 0.08), rng.choice([0.12, 0.35, 0.6, 0.85])
                   + rng.uniform(-0.08, 0.08))
    return hsv(rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.25, 0.85))


def clothing_color(rng):
    return hsv(rng.random(), rng.uniform(0.0, 0.8), rng.uniform(0.08, 0.85))


def skin_color(rng):
    return hsv(rng.uniform(0.03, 0.09), rng.uniform(0.25, 0.6), rng.uniform(0.3, 0.95))

def haze_at(z, visibility):
    """Fraction of the haze colour mixed into a surface ``z`` metres away."""
    return float(1.0 - np.exp(-z / visibility))

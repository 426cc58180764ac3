"""One SynthCity frame: street and objects painted far to near, void regions,
camera effects, and the instance ids renumbered as Cityscapes numbers them."""
import zlib

import cv2
import numpy as np

from .appearance import Style, hsv, noise_crop, vehicle_color
from .canvas import LABEL, Canvas
from .geometry import Camera
from .street import (Street, paint_backdrop, paint_facades, paint_ground, paint_sky,
                     place_objects)

def paint_void(canvas, cam, rng):
    """Ego-vehicle hood, rectification border and out-of-roi rows (void ids 1-3)."""
    h, w = cam.height, cam.width
    if rng.random() < 0.8:
        eh = h * rng.uniform(0.04, 0.1)
        xs = np.linspace(-0.1 * w, 1.1 * w, 24)
        ys = h - eh * (1 - 0.7 * ((xs - w / 2) / (0.65 * w)) ** 2)
        poly = np.concatenate([np.stack([xs, ys], 1), [[1.1 * w, h + 2], [-0.1 * w, h + 2]]])
        hood = Style(vehicle_color(rng) * 0.5, 0.15, 3.0)
        # a lighter band under the edge: the sky reflected in the bonnet
        shine = np.concatenate([np.stack([xs, ys + 0.15 * eh], 1), np.stack([xs, ys + 0.45 * eh], 1)[::-1]])
        canvas.paint([("poly", poly, 0), ("poly", shine, 1)], [hood, hood.shaded(1.6)],
                     LABEL["ego vehicle"], LABEL["ego vehicle"])
    if rng.random() < 0.7:
        y = np.arange(h)
        for side in (0, 1):
            width = np.round(rng.integers(0, 3) + rng.uniform(0, 14) * (y / h) ** 6).astype(int)
            cols = np.arange(w)[None, :]
            m = cols < width[:, None] if side == 0 else cols >= w - width[:, None]
            canvas.style[m] = canvas.add_styles([Style((0, 0, 0), 0.0, 1.0)]) + 1
            canvas.label[m] = LABEL["rectification border"]
            canvas.inst[m] = LABEL["rectification border"]
    rows = int(rng.integers(0, 4))
    if rows:
        canvas.label[:rows] = LABEL["out of roi"]
        canvas.inst[:rows] = LABEL["out of roi"]


def finish_image(canvas, rng):
    """Lighting gradient, colour cast, gamma, blur and sensor noise -> uint8 RGB."""
    h, w = canvas.height, canvas.width
    theta = rng.uniform(0, 2 * np.pi)
    xx = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    yy = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    light = 1 + rng.uniform(0.05, 0.3) * (np.cos(theta) * xx + np.sin(theta) * yy) \
        + 0.08 * noise_crop(rng, h, w, "light")
    tint = rng.uniform(0.88, 1.12, size=3).astype(np.float32)
    img = canvas.compose()
    img *= light[:, :, None]
    img *= tint
    # the rest in uint8 (OpenCV's fast paths): gamma table, blur, then sensor noise
    img = np.clip(img, 0, 255).astype(np.uint8)
    gamma = 255.0 * np.power(np.arange(256) / 255.0, rng.uniform(0.8, 1.25))
    img = cv2.LUT(img, np.rint(gamma).astype(np.uint8))
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.35, 1.1))
    sigma = rng.uniform(1.5, 6.0)
    out = img.astype(np.float32)
    for c in range(3):
        out[:, :, c] += noise_crop(rng, h, w, "grain") * sigma
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def compact_instance_ids(inst):
    """Renumber thing ids per class to labelId*1000 + 0..n-1 in paint order (ids
    fully hidden by nearer objects disappear); other values are kept."""
    inst = np.asarray(inst, np.int64)
    ids = np.flatnonzero(np.bincount(inst.ravel()))   # sorted values present
    new = ids.copy()
    things = ids >= 1000
    tid = ids[things]
    first = np.searchsorted(tid, (tid // 1000) * 1000)
    new[things] = (tid // 1000) * 1000 + (np.arange(tid.size) - first)
    lut = np.zeros(ids[-1] + 1, np.int64)
    lut[ids] = new
    return lut[inst]


def render_frame(height, width, rng, city="synthcity"):
    """Render one frame -> (RGB uint8 (H,W,3), labelIds uint8 (H,W), instanceIds uint16 (H,W))."""
    city_rng = np.random.default_rng(zlib.crc32(city.encode("utf8")))
    cam = Camera(height, width, rng)
    street = Street(rng, city_rng)
    haze = hsv(rng.uniform(0.55, 0.62), rng.uniform(0.02, 0.15), rng.uniform(0.6, 0.9))
    canvas = Canvas(height, width, rng, haze)
    scene = _Scene(street, rng)
    paint_sky(canvas, cam, street, rng)
    paint_ground(canvas, cam, street, rng)
    paint_backdrop(canvas, cam, street, rng)
    paint_facades(canvas, cam, street, rng)
    objects = place_objects(cam, street, rng)
    # painter's algorithm: far first; sort is stable, so ties keep sampling order
    for obj in sorted(objects, key=lambda o: -o.z):
        obj.paint(canvas, cam, scene)
    paint_void(canvas, cam, rng)
    image = finish_image(canvas, rng)
    return image, canvas.label, compact_instance_ids(canvas.inst).astype(np.uint16)


class _Scene:
    """What objects need to know about the frame while painting."""

    def __init__(self, street, rng):
        self.visibility = street.visibility
        self.rng = rng

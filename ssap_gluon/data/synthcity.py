"""SynthCity: a seeded, procedural street-scene dataset in the exact Cityscapes layout.

Each frame is a straight street seen from a car-mounted camera (pinhole model:
horizon row, vanishing point, camera height), painted back to front:

* stuff -- sky, road with lane markings (+ parking strips), sidewalk tiles,
  terrain, building facades with window grids, low walls, fences, trees and
  hedges (vegetation), poles carrying traffic signs and traffic lights, a few
  *static* objects (void label 4) on the sidewalk;
* things -- the eight Cityscapes instance classes: cars in lanes and parked in
  touching rows, trucks, buses, trams (train), motorcycles and bicycles (with
  and without riders), pedestrians alone and in touching groups;
* crowd regions -- far clusters of cars / people written as one region with
  instance value = label id, as real Cityscapes does for "car group";
* void -- ego-vehicle hood (1), rectification border (2), out-of-roi rows (3).

The cases the SSAP paper is about are placed on purpose: large near objects
(buses, trucks, crossing trams: long-range affinity), cars split into
non-adjacent parts by an occluder standing in front of them (pole, pedestrian,
cyclist), touching instances of one class (parked rows, groups of people,
bicycle racks) and small far objects near the horizon. Colours of different
classes overlap on purpose (grey cars / grey walls / grey road, green cars /
vegetation); every surface carries noise texture, and the frame gets a lighting
gradient, haze, blur and sensor noise, so a network has to learn shape and
context rather than threshold colours.

Files (``<stem> = <city>_<seq:06d>_000019``)::

    leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png          RGB uint8
    gtFine/<split>/<city>/<stem>_gtFine_labelIds.png           uint8, Cityscapes label ids
    gtFine/<split>/<city>/<stem>_gtFine_instanceIds.png        uint16, labelId*1000+k for
                                                               thing instances, labelId elsewhere
    gtFine/<split>/<city>/<stem>_gtFine_color.png              RGBA, Cityscapes label colours
    synthcity_manifest.json                                    arguments + summary, written last

Generation is deterministic: frame ``i`` of split ``s`` draws from its own
``SeedSequence(seed, spawn_key=(split_code, i))`` (noise textures are crops of a
bank made from a fixed seed), so the bytes of every PNG depend only on the
arguments and ``GENERATOR_VERSION``, never on the number of worker processes or
on how many other frames are made. See docs/SYNTHCITY.md.
"""
import colorsys
import concurrent.futures
import multiprocessing
import os
import shutil
import time
import zlib

import cv2
import numpy as np
from cityscapesscripts.helpers.labels import id2label, name2label

from ..utils.io import write_json_atomic, write_png

__all__ = ["generate_synthcity", "remove_synthcity", "read_manifest", "render_frame",
           "frame_statistics", "SynthCityDirectoryError", "CITIES", "MANIFEST_NAME",
           "GENERATOR_VERSION", "frame_stem"]

GENERATOR_VERSION = 2  # bump whenever the pixels change: old manifests then refuse a silent reuse
MANIFEST_NAME = "synthcity_manifest.json"
# Cityscapes annotates the 20th frame (number 19) of each 30-frame snippet.
FRAME_NUMBER = 19
# SynthCity's own cities (no underscores: cityscapesScripts splits stems on "_").
CITIES = {
    "train": ("alderwick", "brammelton", "corvanne", "dellmarsh"),
    "val": ("everholt", "fennick"),
    "test": ("gorsemoor", "hallowdene"),
}
SPLIT_CODES = {"train": 0, "val": 1, "test": 2}

LABEL = {name: name2label[name].id for name in (
    "unlabeled", "ego vehicle", "rectification border", "out of roi", "static",
    "road", "sidewalk", "parking", "building", "wall", "fence", "pole",
    "traffic light", "traffic sign", "vegetation", "terrain", "sky",
    "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")}
THING_LABEL_IDS = tuple(sorted(l.id for l in id2label.values()
                               if l.hasInstances and not l.ignoreInEval))

# Label id -> Cityscapes colour (RGB); ids without a label stay black.
_COLOR_LUT = np.zeros((256, 3), np.uint8)
for _id, _label in id2label.items():
    if 0 <= _id < 256:
        _COLOR_LUT[_id] = _label.color


class SynthCityDirectoryError(ValueError):
    """The output directory holds something other than the requested SynthCity."""


# ---------------------------------------------------------------------------
# Camera and canvas
# ---------------------------------------------------------------------------
class Camera:
    """Pinhole camera at height ``cam_height`` looking down +Z; Y is up, X right.

    A point (X, Y, Z) projects to ``x = cx + f X / Z``, ``y = horizon + f (h - Y) / Z``,
    so ground objects far away sit just below the horizon and are small
    (size in pixels = size in metres * f / Z).
    """

    def __init__(self, height, width, rng):
        self.height, self.width = height, width
        self.focal = width * rng.uniform(1.0, 1.2)
        self.cam_height = rng.uniform(1.15, 1.45)
        self.horizon = height * rng.uniform(0.36, 0.46)
        self.center_x = width * (0.5 + rng.uniform(-0.05, 0.05))
        # Nearest depth whose ground line is below the image: geometry starts there.
        self.z_near = self.focal * self.cam_height / (height - self.horizon + 8.0)

    def project(self, points):
        """(N, 3) metres -> (N, 2) pixel coordinates (x, y)."""
        p = np.asarray(points, np.float64)
        z = np.maximum(p[:, 2], 1e-3)
        out = np.empty((p.shape[0], 2))
        out[:, 0] = self.center_x + self.focal * p[:, 0] / z
        out[:, 1] = self.horizon + self.focal * (self.cam_height - p[:, 1]) / z
        return out

    def scale(self, z):
        return self.focal / z

    def ground_point(self, x, z):
        """Pixel (x, y) of the ground point (X, 0, Z)."""
        return self.center_x + self.focal * x / z, self.horizon + self.focal * self.cam_height / z


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


class Canvas:
    """Label maps being painted, and the image they will become.

    Painting writes only integers: label id, instance value and a *style id* per
    pixel. :meth:`compose` turns style ids into colours once per frame
    (colour x (1 + mid * blotch) + fine * grain), so the cost of an object does
    not grow with the work of texturing it. Each style mixes two independent
    noise fields with its own random angle, so neighbouring objects get
    uncorrelated textures.
    """

    SHIFT = 4  # OpenCV fixed-point bits: shapes are placed with 1/16 pixel precision

    def __init__(self, height, width, rng, haze_color):
        self.height, self.width = height, width
        self.rng = rng
        self.background = np.zeros((height, width, 3), np.float32)  # sky and ground
        self.style = np.zeros((height, width), np.int32)             # 0: background
        self.label = np.full((height, width), LABEL["unlabeled"], np.uint8)
        self.inst = np.zeros((height, width), np.int32)
        self.haze_color = np.asarray(haze_color, np.float32)
        self._next_k = {}
        self._colors, self._mid, self._fine, self._angle = [np.zeros(3, np.float32)], [0.0], [0.0], [0.0]
        self.blotch = (noise_crop(rng, height, width, "blotch"), noise_crop(rng, height, width, "blotch"))
        self.grain = (noise_crop(rng, height, width, "grain"), noise_crop(rng, height, width, "grain"))

    def new_instance(self, label_id):
        k = self._next_k.get(label_id, 0)
        self._next_k[label_id] = k + 1
        return label_id * 1000 + k

    def add_styles(self, styles, haze=0.0):
        """Register styles; returns the id of the first one minus 1 (part values start at 1)."""
        base = len(self._colors) - 1
        for st in styles:
            self._colors.append(st.color * (1 - haze) + self.haze_color * haze)
            self._mid.append(st.mid)
            self._fine.append(st.fine)
        self._angle.extend(self.rng.uniform(0, 2 * np.pi, len(styles)).tolist())
        return base

    def paint(self, parts, styles, label_id, inst_value, haze=0.0):
        """Paint ``parts`` (drawn in order, later on top) as one labelled region.

        ``parts``: list of ``(kind, geometry, style_index)`` in pixel coordinates:
        ``("poly", (N,2))``, ``("polys", (K,N,2))``, ``("ellipse", (cx, cy, ax, ay, angle))``,
        ``("ring", (cx, cy, r, thickness))``, ``("line", (x0, y0, x1, y1, thickness))``.
        Returns the number of pixels written.
        """
        drawn = _rasterize(parts, self.width, self.height, self.SHIFT)
        if drawn is None:
            return 0
        partmap, x0, y0 = drawn
        mask = partmap > 0
        n = int(np.count_nonzero(mask))
        if not n:
            return 0
        base = self.add_styles(styles, haze)
        window = (slice(y0, y0 + partmap.shape[0]), slice(x0, x0 + partmap.shape[1]))
        np.copyto(self.style[window], partmap.astype(np.int32) + base, where=mask)
        np.copyto(self.label[window], label_id, where=mask, casting="unsafe")
        np.copyto(self.inst[window], inst_value, where=mask)
        return n

    def paint_stuff(self, parts, styles, name, **kwargs):
        lid = LABEL[name]
        return self.paint(parts, styles, lid, lid, **kwargs)

    def paint_thing(self, parts, styles, name, **kwargs):
        lid = LABEL[name]
        return self.paint(parts, styles, lid, self.new_instance(lid), **kwargs)

    def compose(self):
        """Float RGB image: textured styles over the background."""
        angle = np.asarray(self._angle, np.float32)
        mid, fine = np.asarray(self._mid, np.float32), np.asarray(self._fine, np.float32)
        # one table row per style: r, g, b, then the blotch and grain weights of both fields
        table = np.concatenate([np.asarray(self._colors, np.float32),
                                np.stack([mid * np.cos(angle), mid * np.sin(angle),
                                          fine * np.cos(angle), fine * np.sin(angle)], 1)], 1)
        image = self.background.copy()
        painted = np.flatnonzero(self.style)      # sky and ground keep their background
        t = table[self.style.ravel()[painted]]
        b0, b1 = self.blotch[0].ravel()[painted], self.blotch[1].ravel()[painted]
        g0, g1 = self.grain[0].ravel()[painted], self.grain[1].ravel()[painted]
        shade = 1 + t[:, 3] * b0 + t[:, 4] * b1
        grain = t[:, 5] * g0 + t[:, 6] * g1
        image.reshape(-1, 3)[painted] = t[:, :3] * shade[:, None] + grain[:, None]
        return image


def _rasterize(parts, width, height, shift):
    """Draw ``parts`` into a uint8 map of their clipped bounding box.

    Returns ``(partmap, x0, y0)`` or None when nothing falls inside the image.
    All polygon vertices are converted to fixed point in one array operation
    (per-part numpy calls dominated the cost of small objects).
    """
    arrays, lo_x, lo_y, hi_x, hi_y = [], [], [], [], []
    for kind, g, _ in parts:
        if kind == "poly" or kind == "polys":
            arrays.append(np.asarray(g, np.float64).reshape(-1, 2))
        else:
            if kind == "ellipse":
                rx = ry = max(g[2], g[3])
                cx, cy = g[0], g[1]
            elif kind == "ring":
                rx = ry = g[2] + g[3]
                cx, cy = g[0], g[1]
            elif kind == "line":
                cx, cy = (g[0] + g[2]) / 2, (g[1] + g[3]) / 2
                rx, ry = abs(g[2] - g[0]) / 2 + g[4], abs(g[3] - g[1]) / 2 + g[4]
            else:
                raise ValueError("unknown part kind %r" % (kind,))
            lo_x.append(cx - rx)
            lo_y.append(cy - ry)
            hi_x.append(cx + rx)
            hi_y.append(cy + ry)
    points = np.concatenate(arrays) if arrays else np.zeros((0, 2))
    if len(points):
        lo_x.append(points[:, 0].min())
        lo_y.append(points[:, 1].min())
        hi_x.append(points[:, 0].max())
        hi_y.append(points[:, 1].max())
    if not lo_x:
        return None
    x0, y0 = max(0, int(np.floor(min(lo_x))) - 1), max(0, int(np.floor(min(lo_y))) - 1)
    x1, y1 = min(width, int(np.ceil(max(hi_x))) + 2), min(height, int(np.ceil(max(hi_y))) + 2)
    if x1 <= x0 or y1 <= y0:
        return None
    one = 1 << shift
    # Geometry starts at depth z_near / 2, so coordinates stay far inside int32 range.
    fixed = np.rint((points - (x0, y0)) * one).astype(np.int32)
    partmap = np.zeros((y1 - y0, x1 - x0), np.uint8)
    at = 0
    for kind, g, style in parts:
        value = int(style) + 1
        if kind == "poly":
            n = len(g)
            cv2.fillPoly(partmap, [fixed[at:at + n]], value, cv2.LINE_8, shift)
            at += n
        elif kind == "polys":
            k = len(g)
            if k:
                n = len(g[0])
                cv2.fillPoly(partmap, list(fixed[at:at + k * n].reshape(k, n, 2)), value,
                             cv2.LINE_8, shift)
                at += k * n
        elif kind == "ellipse":
            cx, cy, ax, ay, angle = g
            c = (int(round((cx - x0) * one)), int(round((cy - y0) * one)))
            axes = (max(1, int(round(ax * one))), max(1, int(round(ay * one))))
            cv2.ellipse(partmap, c, axes, float(angle), 0, 360, value, -1, cv2.LINE_8, shift)
        elif kind == "ring":
            cx, cy, r, t = g
            c = (int(round((cx - x0) * one)), int(round((cy - y0) * one)))
            cv2.circle(partmap, c, max(1, int(round(r * one))), value,
                       max(1, int(round(t))), cv2.LINE_8, shift)
        else:
            a = (int(round((g[0] - x0) * one)), int(round((g[1] - y0) * one)))
            b = (int(round((g[2] - x0) * one)), int(round((g[3] - y0) * one)))
            cv2.line(partmap, a, b, value, max(1, int(round(g[4]))), cv2.LINE_8, shift)
    return partmap, x0, y0


# ---------------------------------------------------------------------------
# Colours
# ---------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------
# Geometry helpers
# ---------------------------------------------------------------------------
# Corner order of a box: bit 0 -> x1, bit 1 -> y1, bit 2 -> z1.
_BOX_FACES = {"rear": (0, 1, 3, 2), "left": (0, 4, 6, 2), "right": (1, 5, 7, 3), "top": (2, 3, 7, 6)}
_BOX_CORNERS = np.array([[(i >> 0) & 1, (i >> 1) & 1, (i >> 2) & 1] for i in range(8)], bool)


def _box_corners(cam, x0, x1, y0, y1, z0, z1):
    """(8, 3) corners of a box (z0 clipped to z_near / 2) and the names of its
    faces the camera sees."""
    z0 = max(z0, cam.z_near * 0.5)
    corners = np.where(_BOX_CORNERS, (x1, y1, z1), (x0, y0, z0))
    visible = ["rear"] + (["left"] if x0 > 0 else []) + (["right"] if x1 < 0 else []) + \
        (["top"] if y1 < cam.cam_height else [])
    return corners, visible


def box_faces(cam, x0, x1, y0, y1, z0, z1):
    """Visible faces of an axis-aligned box as ``{name: (4,2) pixel polygon}``.

    Faces of a convex box never overlap in the image, so their union is the silhouette.
    Face names: ``rear`` (Z = z0, towards the camera), ``left`` (X = x0), ``right``
    (X = x1), ``top`` (Y = y1).
    """
    corners, visible = _box_corners(cam, x0, x1, y0, y1, z0, z1)
    corners = cam.project(corners)
    return {k: corners[list(_BOX_FACES[k])] for k in visible}


def face_rect3d(face, x0, x1, y0, y1, z0, z1, a0, a1, b0, b1):
    """Sub-rectangles of a box face in 3-D, (n, 4, 3): ``a`` runs along the face's
    horizontal axis (X for rear/top, Z for sides), ``b`` along its vertical axis
    (Y; Z for the top); ``a0``, ``a1`` are scalars or arrays of n."""
    a0, a1 = np.atleast_1d(a0), np.atleast_1d(a1)
    # columns (X=0, Y=1, Z=2) of the horizontal axis, the vertical axis and the fixed coordinate
    along, up, fixed, value = {"rear": (0, 1, 2, z0), "left": (2, 1, 0, x0),
                               "right": (2, 1, 0, x1), "top": (0, 2, 1, y1)}[face]
    out = np.empty((len(a0), 4, 3))
    out[:, 0, along] = out[:, 3, along] = a0
    out[:, 1, along] = out[:, 2, along] = a1
    out[:, 0:2, up] = b0
    out[:, 2:4, up] = b1
    out[:, :, fixed] = value
    return out


class Polys3D:
    """3-D polygons of one object, projected with a single camera call.

    Box faces get their style shaded by orientation (sides darker, top
    lighter); shaded styles are made once per (style, face).
    """
    SHADE = {"rear": 1.0, "left": 0.82, "right": 0.82, "top": 1.12}

    def __init__(self, cam, styles):
        self.cam = cam
        self.styles = list(styles)
        self.items = []          # (points (k, n, 3), style index)
        self._shaded = {}

    def style(self, style, face="rear"):
        key = (id(style), face)
        if key not in self._shaded:
            self.styles.append(style.shaded(self.SHADE[face]) if face != "rear" else style)
            self._shaded[key] = len(self.styles) - 1
        return self._shaded[key]

    def box(self, style, x0, x1, y0, y1, z0, z1):
        """Add the visible faces of a box; returns their names."""
        corners, faces = _box_corners(self.cam, x0, x1, y0, y1, z0, z1)
        for face in faces:
            self.items.append((corners[list(_BOX_FACES[face])][None], self.style(style, face)))
        return faces

    def rects(self, style_index, face, box, a0, a1, b0, b1):
        self.items.append((face_rect3d(face, *box, a0, a1, b0, b1), style_index))

    def parts(self):
        if not self.items:
            return []
        flat = self.cam.project(np.concatenate([p.reshape(-1, 3) for p, _ in self.items]))
        out, at = [], 0
        for pts, style in self.items:
            n = pts.shape[0] * pts.shape[1]
            out.append(("polys", flat[at:at + n].reshape(pts.shape[0], pts.shape[1], 2), style))
            at += n
        return out


def segment_poly(p0, p1, w0, w1):
    """Quad around the segment p0->p1 (pixels), width w0 at p0 and w1 at p1."""
    p0, p1 = np.asarray(p0, np.float64), np.asarray(p1, np.float64)
    d = p1 - p0
    n = np.array([-d[1], d[0]]) / (np.hypot(*d) + 1e-9)
    return np.array([p0 + n * w0 / 2, p1 + n * w1 / 2, p1 - n * w1 / 2, p0 - n * w0 / 2])


class Sprite:
    """Flat figure standing at ground point (X, Z), facing the camera: parts are
    given in metres (u right, v up from the feet) and placed with scale f / Z."""

    def __init__(self, cam, x, z):
        self.ax, self.ay = cam.ground_point(x, z)
        self.s = cam.scale(z)
        self.parts = []

    def p(self, u, v):
        return self.ax + u * self.s, self.ay - v * self.s

    def poly(self, pts, style):
        self.parts.append(("poly", np.array([self.p(u, v) for u, v in pts]), style))

    def limb(self, a, b, wa, wb, style):
        self.parts.append(("poly", segment_poly(self.p(*a), self.p(*b), wa * self.s,
                                                 wb * self.s), style))

    def ellipse(self, u, v, au, av, style, angle=0.0):
        x, y = self.p(u, v)
        self.parts.append(("ellipse", (x, y, au * self.s, av * self.s, angle), style))

    def ring(self, u, v, r, t, style):
        x, y = self.p(u, v)
        self.parts.append(("ring", (x, y, r * self.s, max(1.0, t * self.s)), style))

    def line(self, a, b, t, style):
        (xa, ya), (xb, yb) = self.p(*a), self.p(*b)
        self.parts.append(("line", (xa, ya, xb, yb, max(1.0, t * self.s)), style))


def haze_at(z, visibility):
    return float(1.0 - np.exp(-z / visibility))


# ---------------------------------------------------------------------------
# Scene objects (things)
# ---------------------------------------------------------------------------
class SceneObject:
    """Something painted in depth order: ``z`` is its nearest depth (metres)."""
    z = 0.0

    def paint(self, canvas, cam, scene):
        raise NotImplementedError


class BoxVehicle(SceneObject):
    """Car, truck, bus or tram as one or two boxes with windows, lights and wheels."""

    def __init__(self, kind, x, z, rng, oncoming=False, group_value=None, along_x=False,
                 x_extent=None):
        self.kind, self.x, self.z, self.oncoming = kind, x, z, oncoming
        self.group_value = group_value  # crowd region: instance value = label id
        self.color = vehicle_color(rng)
        if kind == "bus" and rng.random() < 0.5:
            self.color = hsv(rng.random(), rng.uniform(0.4, 0.9), rng.uniform(0.5, 0.9))
        self.along_x = along_x
        if kind == "car":
            self.w, self.h, self.l = rng.uniform(1.65, 1.95), rng.uniform(1.35, 1.6), rng.uniform(3.9, 4.9)
        elif kind == "truck":
            self.w, self.h, self.l = rng.uniform(2.3, 2.55), rng.uniform(2.9, 3.8), rng.uniform(6.5, 10)
            self.cab_color = vehicle_color(rng) if rng.random() < 0.5 else self.color
        elif kind == "bus":
            self.w, self.h, self.l = 2.55, rng.uniform(2.95, 3.25), rng.choice([12.0, 18.0])
        elif kind == "train":
            self.w, self.h, self.l = 2.6, rng.uniform(3.3, 3.7), rng.uniform(22, 36)
        else:
            raise ValueError(kind)
        if along_x:
            # A tram crossing the street: its long side faces the camera.
            self.x0, self.x1 = x_extent
            self.z0, self.z1 = z, z + self.w
        else:
            self.x0, self.x1 = x - self.w / 2, x + self.w / 2
            self.z0, self.z1 = z, z + self.l
        self.glass = Style(hsv(rng.uniform(0.5, 0.65), rng.uniform(0.1, 0.4), rng.uniform(0.1, 0.4)),
                           0.25, 4.0)
        self.light = Style((200, 30, 25) if not oncoming else (235, 230, 200), 0.05, 3.0)
        self.dark = Style((25, 25, 28), 0.1, 3.0)
        self.plate = Style((215, 215, 205), 0.02, 3.0)

    def silhouette_x(self, cam):
        pts = cam.project([(self.x0, 0, self.z0), (self.x1, 0, self.z0),
                           (self.x0, 0, self.z1), (self.x1, 0, self.z1)])
        return pts[:, 0].min(), pts[:, 0].max()

    def _windows(self, mesh, faces, box, ybot, ytop, spacing, inset=0.12):
        x0, x1, y0, y1, z0, z1 = box
        for name in faces:
            if name == "top":
                continue
            a0, a1 = (x0, x1) if name == "rear" else (z0, z1)
            n = max(1, int((a1 - a0) / spacing))
            step = (a1 - a0) / n
            starts = a0 + np.arange(n) * step
            mesh.rects(0, name, box, starts + inset, starts + step - inset, ybot, ytop)

    def paint(self, canvas, cam, scene):
        # style indices 0-3 are fixed: glass, light, dark, plate
        mesh = Polys3D(cam, [self.glass, self.light, self.dark, self.plate])
        body = Style(self.color, 0.06, 4.0)
        x0, x1, z0, z1 = self.x0, self.x1, self.z0, self.z1
        xm = (x0 + x1) / 2
        if self.kind == "car":
            # wheels (dark boxes at the corners), body, then the cabin with windows
            for wx0, wx1 in ((x0, x0 + 0.25), (x1 - 0.25, x1)):
                for wz0, wz1 in ((z0 + 0.5, z0 + 1.15), (z1 - 1.15, z1 - 0.5)):
                    mesh.box(self.dark, wx0, wx1, 0, 0.62, wz0, wz1)
            mesh.box(body, x0, x1, 0.28, 0.92, z0, z1)
            cz0, cz1 = z0 + (0.9 if not self.oncoming else 1.2), z1 - (1.1 if not self.oncoming else 0.8)
            cbox = (x0 + 0.12, x1 - 0.12, 0.92, self.h, cz0, cz1)
            faces = mesh.box(body, *cbox)
            self._windows(mesh, faces, cbox, 0.97, self.h - 0.07, 1.4, inset=0.07)
            rear = (x0, x1, 0.28, 0.92, z0, z1)
            mesh.rects(1, "rear", rear, [x0 + 0.08, x1 - 0.4], [x0 + 0.4, x1 - 0.08], 0.62, 0.8)
            mesh.rects(3, "rear", rear, xm - 0.26, xm + 0.26, 0.36, 0.48)
        elif self.kind in ("truck", "bus", "train"):
            for wz in ((z0 + 1.0, z0 + 2.0), (z1 - 2.2, z1 - 1.2)) if not self.along_x else ():
                for wx0, wx1 in ((x0, x0 + 0.3), (x1 - 0.3, x1)):
                    mesh.box(self.dark, wx0, wx1, 0, 1.0, *wz)
            if self.kind == "truck":
                cab_l = 2.2
                cab = Style(self.cab_color, 0.06, 4.0)
                if self.oncoming:
                    mesh.box(body, x0, x1, 0.5, self.h, z0 + cab_l + 0.2, z1)
                    cbox = (x0, x1, 0.45, 2.75, z0, z0 + cab_l)
                    mesh.box(cab, *cbox)
                    self._windows(mesh, ["rear"], cbox, 1.6, 2.5, 3.0, inset=0.15)
                else:
                    mesh.box(cab, x0, x1, 0.45, 2.75, z1 - cab_l, z1)
                    mesh.box(body, x0, x1, 0.5, self.h, z0, z1 - cab_l - 0.2)
                    rear = (x0, x1, 0.5, self.h, z0, z1)
                    mesh.rects(1, "rear", rear, [x0 + 0.1, x1 - 0.35], [x0 + 0.35, x1 - 0.1], 0.6, 0.85)
                    mesh.rects(2, "rear", rear, xm - 0.03, xm + 0.03, 0.6, self.h - 0.1)
            else:
                box = (x0, x1, 0.3, self.h, z0, z1)
                faces = mesh.box(body, *box)
                spacing = 1.5 if self.kind == "bus" else 2.0
                self._windows(mesh, faces, box, 1.2, self.h - 0.45, spacing, inset=0.1)
                if self.kind == "train":
                    # stripe under the windows: trams are often two-coloured
                    stripe = mesh.style(Style(vehicle_color(scene.rng), 0.05, 3.0))
                    for name in faces:
                        if name != "top":
                            a0, a1 = (x0, x1) if name == "rear" else (z0, z1)
                            mesh.rects(stripe, name, box, a0, a1, 0.3, 0.9)
        haze = haze_at(self.z, scene.visibility)
        if self.group_value is not None:
            return canvas.paint(mesh.parts(), mesh.styles, LABEL[self.kind], self.group_value, haze=haze)
        return canvas.paint_thing(mesh.parts(), mesh.styles, self.kind, haze=haze)


class Pedestrian(SceneObject):
    def __init__(self, x, z, rng):
        self.x, self.z = x, z
        self.height = rng.uniform(1.5, 1.95)
        self.phase = rng.uniform(-1, 1) if rng.random() < 0.6 else 0.0
        self.back = rng.random() < 0.5
        self.styles = [Style(clothing_color(rng), 0.08, 5.0),   # 0 trousers
                       Style(clothing_color(rng), 0.08, 5.0),   # 1 top
                       Style(skin_color(rng), 0.04, 3.0),       # 2 skin
                       Style(hsv(rng.uniform(0.02, 0.1), rng.uniform(0.2, 0.7),
                                 rng.uniform(0.05, 0.6)), 0.1, 4.0),  # 3 hair
                       Style((30, 28, 26), 0.05, 3.0),          # 4 shoes
                       Style(clothing_color(rng), 0.06, 4.0)]   # 5 bag
        self.bag = rng.random() < 0.3
        self.coat = rng.random() < 0.35

    def sprite(self, cam):
        sp = Sprite(cam, self.x, self.z)
        add_person(sp, self.height, self.phase, self.back, self.bag, self.coat)
        return sp

    def paint(self, canvas, cam, scene, group_value=None):
        sp = self.sprite(cam)
        haze = haze_at(self.z, scene.visibility)
        if group_value is not None:
            return canvas.paint(sp.parts, self.styles, LABEL["person"], group_value, haze=haze)
        return canvas.paint_thing(sp.parts, self.styles, "person", haze=haze)


def add_person(sp, hp, phase, back, bag, coat):
    """Walking or standing person, front or back view (style indices as Pedestrian)."""
    stride = 0.12 * hp * phase
    for side in (-1, 1):
        hip, foot = (side * 0.055 * hp, 0.5 * hp), (side * 0.06 * hp + side * stride * 0.5, 0.02 * hp)
        sp.limb(hip, foot, 0.095 * hp, 0.06 * hp, 0)
        sp.ellipse(foot[0], 0.015 * hp, 0.045 * hp, 0.02 * hp, 4)
    bottom = 0.36 if coat else 0.47
    sp.poly([(-0.12 * hp, 0.81 * hp), (0.12 * hp, 0.81 * hp), (0.1 * hp, bottom * hp),
             (-0.1 * hp, bottom * hp)], 1)
    for side in (-1, 1):
        swing = -side * phase * 0.04 * hp
        sp.limb((side * 0.12 * hp, 0.79 * hp), (side * 0.15 * hp + swing, 0.46 * hp),
                0.06 * hp, 0.045 * hp, 1)
        sp.ellipse(side * 0.15 * hp + swing, 0.45 * hp, 0.022 * hp, 0.03 * hp, 2)
    if bag:
        sp.poly([(0.13 * hp, 0.62 * hp), (0.22 * hp, 0.62 * hp), (0.22 * hp, 0.47 * hp),
                 (0.13 * hp, 0.47 * hp)], 5)
    sp.limb((0, 0.8 * hp), (0, 0.86 * hp), 0.045 * hp, 0.045 * hp, 2)
    sp.ellipse(0, 0.915 * hp, 0.055 * hp, 0.07 * hp, 2 if not back else 3)
    sp.ellipse(0, 0.945 * hp, 0.056 * hp, 0.045 * hp, 3)


class Cyclist(SceneObject):
    """A bicycle or motorcycle seen from the side; optionally ridden (rider = separate
    instance touching the vehicle, as Cityscapes annotates riders)."""

    def __init__(self, x, z, rng, motor=False, ridden=True):
        self.x, self.z, self.motor, self.ridden = x, z, motor, ridden
        self.direction = 1 if rng.random() < 0.5 else -1
        self.frame_style = Style(vehicle_color(rng) if motor else clothing_color(rng), 0.06, 4.0)
        self.rider = Pedestrian(x, z, rng)
        self.helmet = Style(vehicle_color(rng), 0.05, 3.0)

    def paint(self, canvas, cam, scene):
        d = self.direction
        sp = Sprite(cam, self.x, self.z)
        tyre, frame = 0, 1
        styles = [Style((28, 28, 30), 0.08, 3.0), self.frame_style]
        if self.motor:
            r = 0.31
            for u in (-0.7, 0.7):
                sp.ellipse(d * u, r, r, r, tyre)
            sp.poly([(d * -0.85, 0.5), (d * -0.2, 0.45), (d * 0.55, 0.55), (d * 0.45, 0.95),
                     (d * 0.1, 0.85), (d * -0.7, 0.85)], frame)
            sp.limb((d * 0.45, 0.9), (d * 0.62, 1.1), 0.06, 0.05, tyre)
            seat, bars, pedal = (d * -0.3, 0.88), (d * 0.55, 1.1), (d * 0.0, 0.45)
        else:
            r = 0.34
            for u in (-0.52, 0.52):
                sp.ring(d * u, r, r - 0.02, 0.045, tyre)
            rear, front, bracket = (d * -0.52, r), (d * 0.52, r), (d * -0.05, 0.3)
            seat_post, head = (d * -0.2, 0.85), (d * 0.38, 0.85)
            for a, b in ((rear, bracket), (bracket, seat_post), (seat_post, rear), (seat_post, head),
                         (bracket, head), (head, front)):
                sp.line(a, b, 0.04, frame)
            sp.line(head, (d * 0.36, 1.0), 0.035, frame)
            sp.line((d * -0.3, 0.9), (d * -0.1, 0.9), 0.05, tyre)
            seat, bars, pedal = (d * -0.2, 0.9), (d * 0.36, 1.0), (d * -0.05, 0.3)
        haze = haze_at(self.z, scene.visibility)
        name = "motorcycle" if self.motor else "bicycle"
        n = canvas.paint_thing(sp.parts, styles, name, haze=haze)
        if not self.ridden:
            return n
        rp = Sprite(cam, self.x, self.z)
        st = self.rider.styles
        hp = self.rider.height
        shoulder = (seat[0] + d * 0.25 * hp * 0.5, seat[1] + 0.3 * hp)
        knee = ((seat[0] + pedal[0]) / 2 + d * 0.2, (seat[1] + pedal[1]) / 2 + 0.12)
        rp.limb(seat, knee, 0.08 * hp, 0.065 * hp, 0)
        rp.limb(knee, pedal, 0.065 * hp, 0.05 * hp, 0)
        rp.limb(seat, shoulder, 0.15 * hp, 0.17 * hp, 1)
        rp.limb(shoulder, bars, 0.055 * hp, 0.045 * hp, 1)
        rp.ellipse(shoulder[0] + d * 0.05, shoulder[1] + 0.14, 0.06 * hp, 0.07 * hp,
                   5 if self.motor else 3)
        styles_r = list(st)
        if self.motor:
            styles_r[5] = self.helmet
        return n + canvas.paint_thing(rp.parts, styles_r, "rider", haze=haze)


class Group(SceneObject):
    """A crowd region (far people / cars) written with instance value = label id."""

    def __init__(self, members, name):
        self.members, self.name = members, name
        self.z = min(m.z for m in members)

    def paint(self, canvas, cam, scene):
        value = LABEL[self.name]
        n = 0
        for m in sorted(self.members, key=lambda m: -m.z):
            if isinstance(m, Pedestrian):
                n += m.paint(canvas, cam, scene, group_value=value)
            else:
                n += m.paint(canvas, cam, scene)
        return n


# ---------------------------------------------------------------------------
# Scene objects (stuff)
# ---------------------------------------------------------------------------
class Pole(SceneObject):
    """Street lamp / sign post / traffic-light mast; ``top`` decides what it carries."""

    def __init__(self, x, z, rng, top="lamp", height=None, arm_dir=-1):
        self.x, self.z, self.top, self.arm_dir = x, z, top, arm_dir
        self.height = height if height is not None else rng.uniform(3.0, 8.0)
        self.width = rng.uniform(0.1, 0.22)
        self.style = Style(hsv(rng.uniform(0, 1), rng.uniform(0, 0.25), rng.uniform(0.2, 0.7)), 0.05, 4.0)
        self.sign_kind = rng.integers(0, 4)
        self.sign_style = [Style((200, 30, 30), 0.03, 3.0), Style((235, 235, 230), 0.03, 3.0),
                           Style((30, 70, 170), 0.03, 3.0), Style((230, 190, 40), 0.03, 3.0),
                           Style((120, 120, 120), 0.03, 3.0)]
        self.lit = rng.integers(0, 3)

    def paint(self, canvas, cam, scene):
        sp = Sprite(cam, self.x, self.z)
        hgt = self.height
        sp.limb((0, 0), (0, hgt), self.width, self.width * 0.8, 0)
        if self.top == "lamp":
            sp.limb((0, hgt), (self.arm_dir * 1.2, hgt + 0.25), 0.08, 0.08, 0)
            sp.ellipse(self.arm_dir * 1.25, hgt + 0.2, 0.3, 0.1, 0)
        elif self.top == "light" and self.arm_dir:
            sp.limb((0, hgt - 0.3), (self.arm_dir * 3.5, hgt - 0.3), 0.12, 0.09, 0)
        haze = haze_at(self.z, scene.visibility)
        n = canvas.paint_stuff(sp.parts, [self.style], "pole", haze=haze)
        if self.top == "sign":
            sg = Sprite(cam, self.x, self.z)
            v = hgt - 0.35
            k = self.sign_kind
            if k == 0:      # prohibition: red ring, white inside
                sg.ellipse(0, v, 0.32, 0.32, 0)
                sg.ellipse(0, v, 0.24, 0.24, 1)
            elif k == 1:    # mandatory: blue disc with white arrow
                sg.ellipse(0, v, 0.3, 0.3, 2)
                sg.poly([(-0.05, v - 0.15), (0.05, v - 0.15), (0.05, v + 0.05), (0.12, v + 0.05),
                         (0, v + 0.18), (-0.12, v + 0.05), (-0.05, v + 0.05)], 1)
            elif k == 2:    # warning: red triangle
                sg.poly([(-0.35, v - 0.25), (0.35, v - 0.25), (0, v + 0.35)], 0)
                sg.poly([(-0.24, v - 0.19), (0.24, v - 0.19), (0, v + 0.22)], 1)
            else:           # priority road: yellow diamond
                sg.poly([(0, v - 0.32), (0.32, v), (0, v + 0.32), (-0.32, v)], 1)
                sg.poly([(0, v - 0.22), (0.22, v), (0, v + 0.22), (-0.22, v)], 3)
            n += canvas.paint_stuff(sg.parts, self.sign_style, "traffic sign", haze=haze)
        elif self.top == "light":
            lt = Sprite(cam, self.x, self.z)
            u = self.arm_dir * 3.3 if self.arm_dir else 0.0
            v0 = hgt - 1.25 if self.arm_dir else hgt - 1.0
            lt.poly([(u - 0.17, v0), (u + 0.17, v0), (u + 0.17, v0 + 0.9), (u - 0.17, v0 + 0.9)], 0)
            for i in range(3):
                lt.ellipse(u, v0 + 0.75 - i * 0.3, 0.1, 0.1, 1 + (i == self.lit) * (1 + i))
            styles = [Style((30, 32, 30), 0.05, 3.0), Style((55, 55, 50), 0.03, 2.0),
                      Style((240, 60, 40), 0.02, 3.0), Style((250, 200, 50), 0.02, 3.0),
                      Style((80, 240, 120), 0.02, 3.0)]
            n += canvas.paint_stuff(lt.parts, styles, "traffic light", haze=haze)
        return n


class Tree(SceneObject):
    def __init__(self, x, z, rng):
        self.x, self.z = x, z
        self.height = rng.uniform(4.0, 10.0)
        self.crown = rng.uniform(1.5, 3.2)
        g = hsv(rng.uniform(0.18, 0.33), rng.uniform(0.35, 0.8), rng.uniform(0.2, 0.55))
        self.styles = [Style(hsv(rng.uniform(0.05, 0.1), 0.5, rng.uniform(0.15, 0.35)), 0.1, 5.0),
                       Style(g, 0.3, 14.0), Style(g * 0.75, 0.35, 14.0)]
        self.blobs = [(rng.uniform(-0.6, 0.6), rng.uniform(-0.5, 0.6), rng.uniform(0.55, 0.95),
                       1 + (rng.random() < 0.4)) for _ in range(rng.integers(4, 8))]

    def paint(self, canvas, cam, scene):
        sp = Sprite(cam, self.x, self.z)
        c, h = self.crown, self.height
        sp.limb((0, 0), (0, h - c), 0.3, 0.22, 0)
        for du, dv, r, st in self.blobs:
            sp.ellipse(du * c, h - c + dv * c, r * c, r * c * 0.85, st)
        return canvas.paint_stuff(sp.parts, self.styles, "vegetation",
                                  haze=haze_at(self.z, scene.visibility))


class Panel(SceneObject):
    """A vertical strip along the street at X = x from z0 to z1: fence, wall or hedge."""

    def __init__(self, name, x, z0, z1, height, rng):
        self.name, self.x, self.z, self.z1, self.height = name, x, z0, z1, height
        if name == "fence":
            self.styles = [Style(hsv(rng.random(), rng.uniform(0, 0.4), rng.uniform(0.2, 0.6)), 0.1, 6.0),
                           Style(hsv(rng.random(), rng.uniform(0, 0.3), rng.uniform(0.3, 0.8)), 0.2, 10.0)]
        elif name == "wall":
            self.styles = [Style(hsv(rng.uniform(0, 0.15), rng.uniform(0, 0.3), rng.uniform(0.35, 0.8)),
                                 0.12, 7.0)]
        else:
            g = hsv(rng.uniform(0.2, 0.33), rng.uniform(0.4, 0.8), rng.uniform(0.2, 0.5))
            self.styles = [Style(g, 0.3, 14.0)]
        self.post_spacing = rng.uniform(1.5, 3.0)

    def paint(self, canvas, cam, scene):
        z0, z1, x, h = max(self.z, cam.z_near), self.z1, self.x, self.height
        if z1 <= z0:
            return 0
        parts = [("poly", cam.project([(x, 0, z0), (x, 0, z1), (x, h, z1), (x, h, z0)]),
                  0 if self.name != "fence" else 1)]
        if self.name == "fence":
            posts = []
            for zp in np.arange(z0, z1, self.post_spacing):
                posts.append(cam.project([(x, 0, zp), (x, 0, zp + 0.1), (x, h, zp + 0.1), (x, h, zp)]))
            posts.append(cam.project([(x, h - 0.1, z0), (x, h - 0.1, z1), (x, h, z1), (x, h, z0)]))
            parts.append(("polys", posts, 0))
        haze = haze_at((z0 + z1) / 2, scene.visibility)
        return canvas.paint_stuff(parts, self.styles, self.name, haze=haze)


class StaticProp(SceneObject):
    """Bench or litter bin: Cityscapes' void class "static" (ignored in evaluation)."""

    def __init__(self, x, z, rng):
        self.x, self.z = x, z
        self.size = (rng.uniform(0.5, 1.8), rng.uniform(0.6, 1.1), rng.uniform(0.5, 0.8))
        self.style = Style(hsv(rng.random(), rng.uniform(0, 0.6), rng.uniform(0.2, 0.7)), 0.1, 5.0)

    def paint(self, canvas, cam, scene):
        w, h, d = self.size
        faces = box_faces(cam, self.x - w / 2, self.x + w / 2, 0, h, self.z, self.z + d)
        shade = {"rear": 1.0, "left": 0.8, "right": 0.8, "top": 1.15}
        styles = [self.style.shaded(shade[k]) for k in faces]
        parts = [("poly", p, i) for i, p in enumerate(faces.values())]
        return canvas.paint_stuff(parts, styles, "static", haze=haze_at(self.z, scene.visibility))


# ---------------------------------------------------------------------------
# The street: layout, background layers, object placement
# ---------------------------------------------------------------------------
class Street:
    """Lateral layout (metres) and appearance choices of one frame."""

    def __init__(self, rng, city_rng):
        self.rng = rng
        self.lane = rng.uniform(3.0, 3.6)
        n_right = 1 + int(rng.random() < 0.3)
        n_left = int(rng.integers(1, 4))
        self.lane_centers = [i * self.lane for i in range(-n_left, n_right)]
        self.oncoming_from = -((n_left + 1) // 2) * self.lane  # lanes at X <= this drive towards us
        self.lanes_r = self.lane / 2 + (n_right - 1) * self.lane
        self.lanes_l = -self.lane / 2 - n_left * self.lane
        self.park_r = rng.uniform(2.0, 2.4) if rng.random() < 0.65 else 0.0
        self.park_l = rng.uniform(2.0, 2.4) if rng.random() < 0.4 else 0.0
        self.parking_label = rng.random() < 0.4  # else parking strips are plain road
        self.road_r, self.road_l = self.lanes_r + self.park_r, self.lanes_l - self.park_l
        self.walk_r, self.walk_l = rng.uniform(2.0, 5.0), rng.uniform(2.0, 5.0)
        self.grass_r = rng.uniform(1.0, 3.0) if rng.random() < 0.35 else 0.0
        self.grass_l = rng.uniform(1.0, 3.0) if rng.random() < 0.35 else 0.0
        self.facade_r = self.road_r + self.walk_r + self.grass_r
        self.facade_l = self.road_l - self.walk_l - self.grass_l
        self.z_end = rng.uniform(70, 220)
        self.visibility = rng.uniform(120, 400)
        self.crosswalk = rng.uniform(8, 30) if rng.random() < 0.35 else None
        # City flavour: every city has its own building hue and sky mood.
        self.building_hue = city_rng.uniform(0, 1)
        self.overcast = city_rng.uniform(0, 1) * 0.7 + rng.uniform(0, 0.3)


def paint_sky(canvas, cam, street, rng):
    top = int(np.ceil(cam.horizon))
    if top <= 0:
        return
    clear = hsv(rng.uniform(0.55, 0.62), rng.uniform(0.3, 0.7), rng.uniform(0.6, 0.95))
    grey = hsv(rng.uniform(0.55, 0.65), rng.uniform(0.0, 0.12), rng.uniform(0.55, 0.95))
    zenith = clear * (1 - street.overcast) + grey * street.overcast
    horizon = zenith * 0.6 + canvas.haze_color * 0.4
    t = (np.arange(top, dtype=np.float32) / max(1, top - 1))[:, None, None]
    sky = zenith * (1 - t) + horizon * t
    clouds = noise_crop(rng, cam.height, cam.width, "cloud")[:top, :, None]
    sky = sky * (1 + 0.08 * clouds) + np.clip(clouds - 0.6, 0, None) * 40 * (1 - street.overcast)
    canvas.background[:top] = sky
    canvas.label[:top] = LABEL["sky"]
    canvas.inst[:top] = LABEL["sky"]


def paint_ground(canvas, cam, street, rng):
    """Road, parking, sidewalks and grass below the horizon, from ground coordinates.

    The street is straight along Z, so every zone is an X interval: each pixel's
    ground point (X, Z) decides its label; tiles, markings and kerbs are patterns in
    (X, Z), so they shrink with distance like the real thing.
    """
    top = int(np.floor(cam.horizon)) + 1
    h, w = cam.height - top, cam.width
    s = street
    rows = np.arange(top, cam.height, dtype=np.float32) + 0.5
    zg = (cam.focal * cam.cam_height / (rows - cam.horizon)).astype(np.float32)[:, None]
    xg = (np.arange(w, dtype=np.float32) + 0.5 - cam.center_x)[None, :] * (zg / cam.focal)
    # zones: 0 grass, 1 sidewalk, 2 road, 3 parking strip, 4 kerb, 5 road marking
    edges = np.array([s.road_l - s.walk_l, s.road_l - 0.18, s.road_l, s.lanes_l, s.lanes_r,
                      s.road_r, s.road_r + 0.18, s.road_r + s.walk_r], np.float32)
    zone_of_interval = np.array([0, 1, 4, 3, 2, 3, 4, 1, 0], np.uint8)
    zone = zone_of_interval[np.searchsorted(edges, xg, side="right")]
    label_of_zone = np.array([LABEL["terrain"], LABEL["sidewalk"], LABEL["road"],
                              LABEL["parking"] if s.parking_label else LABEL["road"],
                              LABEL["sidewalk"], LABEL["road"]], np.uint8)
    # markings: dashed lane lines, solid edge lines, zebra crossing, parking bays
    white = np.zeros((h, w), bool)
    for b in [c + s.lane / 2 for c in s.lane_centers[:-1]]:
        white |= (np.abs(xg - b) < 0.07) & (np.mod(zg, 9.0) < 3.0)
    for b in (s.lanes_l, s.lanes_r):
        white |= np.abs(xg - b) < 0.08
    if s.crosswalk is not None:
        white |= (zg > s.crosswalk) & (zg < s.crosswalk + 3.5) & (np.mod(xg, 1.0) < 0.5) & \
                 (xg > s.lanes_l) & (xg < s.lanes_r)
    white |= (zone == 3) & (np.mod(zg, 5.5) < 0.12)
    white &= (zone == 2) | (zone == 3)
    zone[white] = 5
    label = label_of_zone[zone]

    road_col = hsv(rng.uniform(0, 1), rng.uniform(0, 0.12), rng.uniform(0.25, 0.5))
    walk_col = hsv(rng.uniform(0.0, 0.15), rng.uniform(0, 0.3), rng.uniform(0.4, 0.75))
    grass_col = hsv(rng.uniform(0.12, 0.3), rng.uniform(0.3, 0.7), rng.uniform(0.25, 0.55))
    park_col = road_col * (rng.uniform(0.85, 1.2) if (s.parking_label or rng.random() < 0.5) else 1.0)
    colors = np.stack([grass_col, walk_col, road_col, park_col, walk_col * 1.25,
                       hsv(0, 0, rng.uniform(0.7, 0.95))]).astype(np.float32)
    mid_amp = np.array([0.3, 0.08, 0.1, 0.1, 0.05, 0.08], np.float32)
    fine_amp = np.array([12, 5, 6, 6, 5, 5], np.float32)
    mid, fine = canvas.blotch[0][top:], canvas.grain[0][top:]
    shade = 1 + mid_amp[zone] * mid
    tile = rng.uniform(0.3, 0.8)
    seam = (zone == 1) & ((np.mod(xg, tile) < 0.06) | (np.mod(zg, tile) < 0.06))
    shade[seam] *= 0.78
    haze = (1 - np.exp(-zg / s.visibility))[:, :, None]
    image = colors[zone] * shade[:, :, None] + (fine_amp[zone] * fine)[:, :, None]
    image += (canvas.haze_color - image) * haze
    canvas.background[top:] = image
    canvas.label[top:] = label
    canvas.inst[top:] = label


def building_style(rng, street):
    hue = street.building_hue + rng.normal(0, 0.06)
    return Style(hsv(hue, rng.uniform(0.05, 0.45), rng.uniform(0.3, 0.85)), 0.12, 6.0)


def window_styles(rng):
    return [Style(hsv(rng.uniform(0.5, 0.65), rng.uniform(0.05, 0.35), rng.uniform(0.1, 0.35)), 0.2, 5.0),
            Style(hsv(rng.uniform(0.1, 0.15), rng.uniform(0.3, 0.6), rng.uniform(0.6, 0.9)), 0.1, 4.0)]


def paint_facades(canvas, cam, street, rng):
    """Both street sides: facade segments along Z with window grids and shop fronts."""
    for side in (-1, 1):
        xf = street.facade_r if side > 0 else street.facade_l
        z = cam.z_near
        segments = []
        while z < street.z_end:
            length = rng.uniform(8, 35)
            if rng.random() < 0.15:
                z += length * 0.5           # a gap: grass / far buildings show through
                continue
            segments.append((z, min(z + length, street.z_end), rng.uniform(6, 25)))
            z += length
        for z0, z1, hb in reversed(segments):  # far first
            base = building_style(rng, street)
            glass = window_styles(rng)
            styles = [base, glass[0], glass[1], base.shaded(0.7)]
            parts = [("poly", cam.project([(xf, 0, z0), (xf, 0, z1), (xf, hb, z1), (xf, hb, z0)]), 0)]
            col_w, row_h = rng.uniform(2.2, 3.6), rng.uniform(2.8, 3.6)
            if col_w * cam.scale(z0) > 2.5:    # windows bigger than a couple of pixels
                fw, fh = rng.uniform(0.35, 0.65), rng.uniform(0.35, 0.6)
                za = z0 + np.arange(int((z1 - z0) / col_w)) * col_w + col_w * (1 - fw) / 2
                za = za[col_w * cam.scale(za) >= 2.5]
                yb = np.arange(1, int(hb / row_h)) * row_h + row_h * (1 - fh) / 2
                dark = lit = []
                if za.size and yb.size:
                    zz, yy = np.meshgrid(za, yb)
                    corners = np.stack([np.stack([np.full_like(zz, xf), yy + dy, zz + dz], -1)
                                        for dy, dz in ((0, 0), (0, col_w * fw),
                                                       (row_h * fh, col_w * fw), (row_h * fh, 0))], -2)
                    quads = cam.project(corners.reshape(-1, 3)).reshape(-1, 4, 2)
                    is_lit = rng.random(len(quads)) < 0.12
                    dark, lit = quads[~is_lit], quads[is_lit]
                parts.append(("polys", dark, 1))
                parts.append(("polys", lit, 2))
                # ground floor: shop window band
                parts.append(("poly", cam.project([(xf, 0.4, z0 + 0.5), (xf, 0.4, z1 - 0.5),
                                                   (xf, 2.4, z1 - 0.5), (xf, 2.4, z0 + 0.5)]), 1))
            # cornice
            parts.append(("poly", cam.project([(xf, hb - 0.4, z0), (xf, hb - 0.4, z1), (xf, hb, z1),
                                               (xf, hb, z0)]), 3))
            canvas.paint_stuff(parts, styles, "building", haze=haze_at((z0 + z1) / 2, street.visibility))


def paint_backdrop(canvas, cam, street, rng):
    """Buildings and trees across the far end of the street (frontal, small)."""
    z = street.z_end
    x = street.facade_l - rng.uniform(10, 60)
    x_stop = street.facade_r + rng.uniform(10, 60)
    while x < x_stop:
        width = rng.uniform(6, 25)
        if rng.random() < 0.25:
            tree = Tree(x + width / 2, z, rng)
            tree.height *= 1.3
            tree.crown *= 1.5
            tree.paint(canvas, cam, street)
        elif rng.random() < 0.85:
            hb = rng.uniform(5, 30)
            base = building_style(rng, street)
            parts = [("poly", cam.project([(x, 0, z), (x + width, 0, z), (x + width, hb, z), (x, hb, z)]), 0)]
            canvas.paint_stuff(parts, [base], "building", haze=haze_at(z, street.visibility))
        x += width


def place_objects(cam, street, rng):
    """Sample every object of the frame; returns the list to paint (unsorted)."""
    s = street
    objs = []
    vehicles = []
    # traffic in the lanes
    for xc in s.lane_centers:
        z = rng.uniform(8, 22) if xc != 0 else rng.uniform(10, 25)
        while z < 90:
            if rng.random() < 0.45:
                r = rng.random()
                kind = "car" if r < 0.86 else ("truck" if r < 0.93 else "bus")
                v = BoxVehicle(kind, xc + rng.normal(0, 0.2), z, rng, oncoming=xc <= s.oncoming_from)
                vehicles.append(v)
                z = v.z1
            z += rng.uniform(4, 25)
    # a large near vehicle: long-range affinity case
    if rng.random() < 0.3:
        xc = s.lane_centers[int(rng.integers(0, len(s.lane_centers)))]
        kind = "bus" if rng.random() < 0.5 else "truck"
        zb = rng.uniform(8, 16)
        vehicles = [v for v in vehicles if not (abs(v.x - xc) < 2 and v.z0 < zb + 20)]
        vehicles.append(BoxVehicle(kind, xc, zb, rng, oncoming=xc <= s.oncoming_from))
    # parked rows: touching cars of one class
    for side, width in ((1, s.park_r), (-1, s.park_l)):
        if not width:
            continue
        xp = (s.lanes_r + width / 2) if side > 0 else (s.lanes_l - width / 2)
        z = rng.uniform(3.5, 12)
        while z < 70:
            if rng.random() < 0.12:
                z += rng.uniform(5, 15)
                continue
            v = BoxVehicle("car" if rng.random() < 0.93 else "truck", xp + rng.normal(0, 0.12), z, rng)
            vehicles.append(v)
            z = v.z1 + rng.uniform(0.05, 1.0)
    # a tram
    if rng.random() < 0.13:
        if rng.random() < 0.5:
            zt = rng.uniform(14, 45)
            x0 = rng.uniform(s.facade_l - 10, s.facade_l + 5)
            tram = BoxVehicle("train", 0, zt, rng, along_x=True,
                              x_extent=(x0, x0 + rng.uniform(20, 35)))
            vehicles = [v for v in vehicles if not (v.z0 < zt + 3 and v.z1 > zt)]
        else:
            tram = BoxVehicle("train", s.lane_centers[0], rng.uniform(10, 40), rng,
                              oncoming=rng.random() < 0.5)
            vehicles = [v for v in vehicles if abs(v.x - tram.x) > 2 or v.z1 < tram.z0 or v.z0 > tram.z1]
        vehicles.append(tram)
    objs.extend(vehicles)

    # occluders standing in front of cars: split a car into non-adjacent parts
    candidates = [v for v in vehicles if v.kind == "car" and 7 < v.z0 < 45]
    n_occ = int(rng.random() < 0.8) + int(rng.random() < 0.4)
    for v in [candidates[i] for i in rng.permutation(len(candidates))[:n_occ]]:
        xa, xb = v.silhouette_x(cam)
        if xb - xa < 8:
            continue
        x_px = xa + rng.uniform(0.35, 0.65) * (xb - xa)
        r = rng.random()
        zo = v.z0 * rng.uniform(0.55, 0.85) if r < 0.45 else max(4.0, v.z0 - rng.uniform(1.2, 4.0))
        xo = (x_px - cam.center_x) * zo / cam.focal
        if r < 0.45:
            objs.append(Pole(xo, zo, rng, top="sign" if rng.random() < 0.5 else "lamp",
                             height=rng.uniform(3.5, 7.0), arm_dir=-np.sign(xo) or 1))
        elif r < 0.8:
            objs.append(Pedestrian(xo, zo, rng))
        else:
            objs.append(Cyclist(xo, zo, rng, motor=rng.random() < 0.3))

    # pedestrians on the sidewalks, alone and in touching groups
    def walk_x(side):
        return (s.road_r + rng.uniform(0.4, s.walk_r - 0.3)) if side > 0 else \
               (s.road_l - rng.uniform(0.4, s.walk_l - 0.3))
    for _ in range(rng.poisson(3.0)):
        objs.append(Pedestrian(walk_x(1 if rng.random() < 0.5 else -1), rng.uniform(4, 70), rng))
    for _ in range(rng.poisson(0.9)):
        side = 1 if rng.random() < 0.5 else -1
        x0, z0 = walk_x(side), rng.uniform(5, 40)
        for i in range(int(rng.integers(2, 5))):
            objs.append(Pedestrian(x0 + i * rng.uniform(0.42, 0.55) * (-side), z0 + rng.uniform(-0.3, 0.3), rng))
    if street.crosswalk is not None and rng.random() < 0.7:
        for _ in range(int(rng.integers(1, 4))):
            objs.append(Pedestrian(rng.uniform(s.lanes_l, s.lanes_r), street.crosswalk + rng.uniform(0, 3), rng))
    # crowd regions (instance value = label id)
    if rng.random() < 0.25:
        side = 1 if rng.random() < 0.5 else -1
        z0 = rng.uniform(35, 80)
        x0 = walk_x(side)
        objs.append(Group([Pedestrian(x0 + rng.uniform(-1.0, 1.0), z0 + rng.uniform(0, 3), rng)
                           for _ in range(int(rng.integers(4, 9)))], "person"))
    if rng.random() < 0.25:
        z0 = rng.uniform(60, 120)
        xc = s.lane_centers[int(rng.integers(0, len(s.lane_centers)))]
        members = []
        for i in range(int(rng.integers(3, 7))):
            members.append(BoxVehicle("car", xc + rng.uniform(-2.5, 2.5), z0 + i * rng.uniform(2, 5), rng,
                                      group_value=LABEL["car"]))
        objs.append(Group(members, "car"))
    # riders and parked two-wheelers
    for _ in range(rng.poisson(0.6)):
        objs.append(Cyclist(s.lanes_r - rng.uniform(0.5, 1.2), rng.uniform(6, 50), rng,
                            motor=rng.random() < 0.35))
    if rng.random() < 0.35:
        side = 1 if rng.random() < 0.5 else -1
        x0, z0 = walk_x(side), rng.uniform(6, 30)
        motor = rng.random() < 0.3
        for i in range(int(rng.integers(1, 5))):
            objs.append(Cyclist(x0, z0 + i * rng.uniform(0.5, 0.7) * (2.0 if motor else 1.0), rng,
                                motor=motor, ridden=False))
    # street furniture and vegetation along the kerbs
    for side in (-1, 1):
        curb = (s.road_r + 0.5) if side > 0 else (s.road_l - 0.5)
        z = rng.uniform(3, 15)
        spacing = rng.uniform(14, 30)
        while z < 90:
            top = "lamp" if rng.random() < 0.6 else "sign"
            objs.append(Pole(curb, z, rng, top=top, arm_dir=-side))
            z += spacing * rng.uniform(0.8, 1.2)
        if rng.random() < 0.6:
            xt = ((s.facade_r - 1.0) if side > 0 else (s.facade_l + 1.0))
            z = rng.uniform(4, 12)
            spacing = rng.uniform(7, 15)
            while z < 100:
                objs.append(Tree(xt + rng.normal(0, 0.3), z, rng))
                z += spacing * rng.uniform(0.8, 1.2)
        facade = s.facade_r if side > 0 else s.facade_l
        for name, p in (("wall", 0.3), ("fence", 0.3), ("vegetation", 0.25)):
            if rng.random() < p:
                z0 = rng.uniform(cam.z_near, 40)
                height = rng.uniform(0.6, 2.2) if name != "fence" else rng.uniform(0.9, 1.7)
                x = facade - side * rng.uniform(0.2, 0.8)
                if name == "fence" and (s.grass_r if side > 0 else s.grass_l):
                    x = facade - side * (s.grass_r if side > 0 else s.grass_l)
                objs.append(Panel(name, x, z0, z0 + rng.uniform(5, 40), height, rng))
        for _ in range(rng.poisson(0.5)):
            objs.append(StaticProp(walk_x(side), rng.uniform(4, 40), rng))
    if rng.random() < 0.4:
        zi = rng.uniform(15, 45)
        for xc, arm in ((s.road_r + 0.4, -1), (s.road_l - 0.4, 1)):
            objs.append(Pole(xc, zi, rng, top="light", height=rng.uniform(5, 6.5), arm_dir=arm))
    return objs


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


# ---------------------------------------------------------------------------
# Statistics of one frame (read back from the label maps, not from the sampler)
# ---------------------------------------------------------------------------
def frame_statistics(label, inst, large_fraction=0.25, small_area=256, min_part=4):
    """Counts that document the paper's cases in a frame's ground truth.

    * ``instances``: {label id: number of thing instances (id >= 1000)}
    * ``groups``: {label id: crowd pixels (thing class, instance value < 1000)}
    * ``split``: instances whose mask has >= 2 8-connected parts of >= ``min_part`` px
    * ``touching``: pairs of same-class instances sharing a 4-neighbour boundary
    * ``large``: instances whose box spans >= ``large_fraction`` of the width
    * ``small``: instances with fewer than ``small_area`` pixels
    * ``pixels``: {label id: pixel count}
    """
    from scipy.ndimage import find_objects

    lcounts = np.bincount(label.ravel(), minlength=256)
    inst = np.asarray(inst, np.int64)
    counts = np.bincount(inst.ravel())
    ids = np.flatnonzero(counts)
    stats = {"instances": {}, "groups": {}, "split": 0, "touching": 0, "large": 0, "small": 0,
             "pixels": {int(i): int(lcounts[i]) for i in np.flatnonzero(lcounts)}}
    width = inst.shape[1]
    # dense index 1..n per value, so find_objects gives every instance's box in one pass
    index = np.zeros(counts.size, np.int32)
    index[ids] = np.arange(1, ids.size + 1)
    dense = index[inst]
    boxes = find_objects(dense)
    for j, i in enumerate(ids.tolist()):
        c = int(counts[i])
        if i >= 1000:
            stats["instances"][i // 1000] = stats["instances"].get(i // 1000, 0) + 1
            rows, cols = boxes[j]
            mask = (dense[rows, cols] == j + 1).astype(np.uint8)
            n, _, cc_stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
            if int((cc_stats[1:, cv2.CC_STAT_AREA] >= min_part).sum()) >= 2:
                stats["split"] += 1
            if cols.stop - cols.start >= large_fraction * width:
                stats["large"] += 1
            if c < small_area:
                stats["small"] += 1
        elif i in THING_LABEL_IDS:
            stats["groups"][i] = c
    pairs = set()
    for a, b in ((inst[:, :-1], inst[:, 1:]), (inst[:-1, :], inst[1:, :])):
        m = (a != b) & (a >= 1000) & (b >= 1000) & (a // 1000 == b // 1000)
        if m.any():
            lo, hi = np.minimum(a[m], b[m]), np.maximum(a[m], b[m])
            pairs.update(zip(lo.tolist(), hi.tolist()))
    stats["touching"] = len(pairs)
    return stats


# ---------------------------------------------------------------------------
# Files and the dataset
# ---------------------------------------------------------------------------
def frame_stem(city, seq):
    return "%s_%06d_%06d" % (city, seq, FRAME_NUMBER)


def frame_paths(out_dir, split, city, seq):
    stem = frame_stem(city, seq)
    img = os.path.join(out_dir, "leftImg8bit", split, city, stem + "_leftImg8bit.png")
    gt = os.path.join(out_dir, "gtFine", split, city, stem + "_gtFine_")
    return {"image": img, "labelIds": gt + "labelIds.png", "instanceIds": gt + "instanceIds.png",
            "color": gt + "color.png"}


def frame_rng(seed, split, index):
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SPLIT_CODES[split], index)))


def frame_city(split, index):
    cities = CITIES[split]
    return cities[index % len(cities)], index // len(cities)


def _render_and_write(task):
    out_dir, split, index, seed, height, width = task
    city, seq = frame_city(split, index)
    image, label, inst = render_frame(height, width, frame_rng(seed, split, index), city)
    paths = frame_paths(out_dir, split, city, seq)
    write_png(paths["image"], image[:, :, ::-1])
    write_png(paths["labelIds"], label)
    write_png(paths["instanceIds"], inst)
    color = np.concatenate([_COLOR_LUT[label][:, :, ::-1],
                            np.full(label.shape + (1,), 255, np.uint8)], axis=2)
    write_png(paths["color"], color)
    return split, index, frame_statistics(label, inst)


def _worker_init():
    cv2.setNumThreads(1)


def read_manifest(out_dir):
    """The manifest dict of a SynthCity directory, or None if there is none."""
    import json
    path = os.path.join(out_dir, MANIFEST_NAME)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            manifest = json.load(f)
    except ValueError as e:
        raise SynthCityDirectoryError("%s: unreadable SynthCity manifest (%s); delete it or use "
                                      "another directory" % (path, e))
    if not isinstance(manifest, dict) or manifest.get("generator") != "synthcity":
        raise SynthCityDirectoryError("%s is not a SynthCity manifest" % path)
    return manifest


def remove_synthcity(out_dir):
    """Delete a SynthCity dataset (only what the generator writes); refuses
    directories without a SynthCity manifest so real data is never touched."""
    if read_manifest(out_dir) is None:
        raise SynthCityDirectoryError(
            "%s has no %s: refusing to delete files SynthCity did not write" % (out_dir, MANIFEST_NAME))
    for sub in ("leftImg8bit", "gtFine"):
        shutil.rmtree(os.path.join(out_dir, sub), ignore_errors=True)
    os.unlink(os.path.join(out_dir, MANIFEST_NAME))


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError("generate_synthcity: %s must be an integer >= %d, got %r"
                         % (name, minimum, value))
    return int(value)


def _aggregate(results, arguments, seconds):
    names = {i: id2label[i].name for i in THING_LABEL_IDS}
    per_split = {}
    total = {n: 0 for n in names.values()}
    groups = {n: 0 for n in names.values()}
    pixels = {}
    counters = {"split_instances": 0, "touching_pairs": 0, "large_instances": 0,
                "small_instances": 0}
    frames = {}
    for split, _, st in results:
        frames[split] = frames.get(split, 0) + 1
        ps = per_split.setdefault(split, {n: 0 for n in names.values()})
        for lid, n in st["instances"].items():
            ps[names[lid]] += n
            total[names[lid]] += n
        for lid in st["groups"]:
            groups[names[lid]] += 1
        for lid, n in st["pixels"].items():
            pixels[id2label[lid].name] = pixels.get(id2label[lid].name, 0) + n
        counters["split_instances"] += st["split"]
        counters["touching_pairs"] += st["touching"]
        counters["large_instances"] += st["large"]
        counters["small_instances"] += st["small"]
    all_px = float(sum(pixels.values())) or 1.0
    return {
        "arguments": arguments,
        "frames": {s: frames.get(s, 0) for s in ("train", "val", "test")},
        "instances": total,
        "instances_per_split": per_split,
        "frames_with_crowd_region": groups,
        "pixel_fraction": {k: round(v / all_px, 5) for k, v in sorted(pixels.items())},
        **counters,
        "seconds": round(seconds, 2),
    }


def generate_synthcity(out_dir, num_train=300, num_val=60, num_test=0, seed=0, height=256,
                       width=512, workers=None):
    """Write a SynthCity dataset under ``out_dir`` and return its summary.

    The summary (also stored in ``out_dir/synthcity_manifest.json``, written last)
    holds frames per split, thing instances per class (and per split), the number
    of split / touching / large / small instances and the seconds it took.

    Re-running with the same arguments on a complete dataset returns the stored
    summary without rendering. A directory holding a SynthCity made with other
    arguments, or any other non-empty directory, raises
    :class:`SynthCityDirectoryError` (use :func:`remove_synthcity` first).
    ``workers``: processes to render with (None: as many as useful, up to the
    CPU count); the output never depends on it.
    """
    arguments = {
        "num_train": _check_int("num_train", num_train, 0),
        "num_val": _check_int("num_val", num_val, 0),
        "num_test": _check_int("num_test", num_test, 0),
        "seed": _check_int("seed", seed, 0),
        "height": _check_int("height", height, 64),
        "width": _check_int("width", width, 64),
        "version": GENERATOR_VERSION,
    }
    if workers is not None:
        _check_int("workers", workers, 1)
    out_dir = os.fspath(out_dir)
    manifest = read_manifest(out_dir) if os.path.isdir(out_dir) else None
    if manifest is not None:
        if manifest.get("arguments") != arguments:
            raise SynthCityDirectoryError(
                "%s already holds a SynthCity made with %s; requested %s. Use another directory, "
                "or remove it first (scripts/make_synthcity.py --force)."
                % (out_dir, manifest.get("arguments"), arguments))
        if manifest.get("complete"):
            return dict(manifest["summary"], skipped=True)
    elif os.path.isdir(out_dir) and os.listdir(out_dir):
        raise SynthCityDirectoryError(
            "%s is not empty and holds no SynthCity (%s missing); choose an empty or new directory"
            % (out_dir, MANIFEST_NAME))
    os.makedirs(out_dir, exist_ok=True)
    manifest_path = os.path.join(out_dir, MANIFEST_NAME)
    write_json_atomic(manifest_path, {"generator": "synthcity", "complete": False,
                                      "arguments": arguments})
    start = time.perf_counter()
    tasks = [(out_dir, split, i, arguments["seed"], arguments["height"], arguments["width"])
             for split in ("train", "val", "test") for i in range(arguments["num_" + split])]
    if workers is None:
        workers = max(1, min(os.cpu_count() or 1, len(tasks) // 24))
    if workers == 1 or len(tasks) <= 1:
        results = [_render_and_write(t) for t in tasks]
    else:
        ctx = multiprocessing.get_context("spawn")  # never fork a process that may run mxnet
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx,
                                                    initializer=_worker_init) as pool:
            results = list(pool.map(_render_and_write, tasks, chunksize=4))
    summary = _aggregate(results, arguments, time.perf_counter() - start)
    summary["workers"] = workers
    write_json_atomic(manifest_path, {"generator": "synthcity", "complete": True,
                                      "arguments": arguments, "summary": summary})
    return summary

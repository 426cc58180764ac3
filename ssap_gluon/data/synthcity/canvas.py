"""The canvas a SynthCity frame is painted on, and the rasteriser that fills it.

Painting writes integers only (label id, instance value, style id per pixel);
:meth:`Canvas.compose` turns style ids into a textured image once per frame.
"""
import cv2
import numpy as np
from cityscapesscripts.helpers.labels import name2label

from .appearance import noise_crop

#: Cityscapes label id of every class SynthCity paints, by name.
LABEL = {name: name2label[name].id for name in (
    "unlabeled", "ego vehicle", "rectification border", "out of roi", "static",
    "road", "sidewalk", "parking", "building", "wall", "fence", "pole",
    "traffic light", "traffic sign", "vegetation", "terrain", "sky",
    "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")}

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

"""Projection: the pinhole camera, and 3-D boxes and flat sprites made into pixel
polygons (the ``parts`` a :class:`~.canvas.Canvas` paints)."""
import numpy as np

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

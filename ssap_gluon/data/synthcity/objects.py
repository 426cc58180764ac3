"""What stands in a SynthCity street; each object paints itself onto the canvas.

Things (one instance each): vehicles as boxes, pedestrians, cyclists with
riders, and crowd groups. Stuff: poles carrying lamps, signs or traffic lights,
trees, fences / walls / hedges, and *static* props (void).
"""
import numpy as np

from .appearance import Style, clothing_color, haze_at, hsv, skin_color, vehicle_color
from .canvas import LABEL
from .geometry import Polys3D, Sprite, box_faces

# ---------------------------------------------------------------------------
# Things: one instance each (or one crowd region per Group)
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
# Stuff: instance value = label id
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

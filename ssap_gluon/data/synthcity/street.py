"""One SynthCity street: its layout, the background layers, and where objects stand.

The street is straight along Z, so every zone (lanes, parking strips, kerbs,
sidewalks, grass, facades) is an X interval, drawn per frame by :class:`Street`.
"""
import numpy as np

from .appearance import Style, haze_at, hsv, noise_crop
from .canvas import LABEL
from .objects import BoxVehicle, Cyclist, Group, Panel, Pedestrian, Pole, StaticProp, Tree

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

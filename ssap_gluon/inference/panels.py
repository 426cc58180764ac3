"""Fig. 6- and Fig. 7-style panels of one frame (numpy + OpenCV, no mxnet).

Fig. 6 (one row per frame)::

    Image | Proposals from 1/16 | Proposals from 1/8 | Instance Seg. | Ground Truth

Fig. 7::

    Semantic Seg. | Instance Seg.

Drawing rules:

* **Overlays.** Label maps (``-1`` = nothing) are drawn on the image dimmed
  to ``DIM`` of its brightness; a labelled pixel is ``ALPHA * colour +
  (1 - ALPHA) * image``; a 1-pixel dark line marks where two labels (or a
  label and nothing) meet, so neighbours of similar colour stay apart.
* **Colours.** :func:`id_colour` is a fixed function of an integer key
  (golden-ratio hue steps, so consecutive keys differ strongly): the same key
  always gets the same colour, in every tile and every run.
* **Which key an object gets** (:func:`display_keys`): a ground-truth
  instance is keyed by its ``instanceIds`` value (``labelId * 1000 + k``); a
  predicted instance that matches a ground-truth instance (IoU > 0.5, so at
  most one) takes that instance's key, so the same object has the same colour
  in both tiles; an unmatched one is keyed by its own index. A proposal takes
  the key of the final instance it became (mutual best overlap, covering more
  than half of the proposal), else a key of its own (``PROPOSAL_KEY_BASE *
  stride + id``). So colours follow an object down the cascade.
* **Tiles** are ``tile_width`` wide (height keeps the frame's aspect ratio),
  label maps are resized with nearest neighbours, the image with area
  averaging; each tile has a title bar above it; tiles are separated by
  ``GAP`` pixels of the background colour. A cascade level that was not
  visited (e.g. ``TEST.CASCADE_INIT_STRIDE 8`` has no 1/16 proposals) is a grey
  tile saying so.

All images here are RGB uint8 (H, W, 3); :func:`write_panel` writes PNG.
"""
import cv2
import numpy as np

__all__ = ["ALPHA", "DIM", "GAP", "BACKGROUND", "PROPOSAL_KEY_BASE", "FIG6_STRIDES",
           "id_colour", "overlay", "display_keys", "match_instances", "match_proposals",
           "ground_truth_instances", "cityscapes_palette", "colour_semantic",
           "title_height", "tile_size", "titled", "not_visited_tile", "hstack_tiles",
           "fig6_panel", "fig6_from_prediction", "proposals_at_full_resolution",
           "not_visited_reason", "fig7_panel", "write_panel"]

ALPHA = 0.6          # weight of an object's colour over the image
DIM = 0.4            # brightness of the image where nothing is drawn
GAP = 4              # pixels between tiles
BACKGROUND = (255, 255, 255)
TITLE_BAR = (40, 40, 40)
TITLE_TEXT = (255, 255, 255)
EDGE_FACTOR = 0.35   # brightness of the line between two labels
NOT_VISITED = (128, 128, 128)
PROPOSAL_KEY_BASE = 1000000
#: The levels whose proposals Fig. 6 shows, in column order.
FIG6_STRIDES = (16, 8)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_GOLDEN = 0.6180339887498949


# ---------------------------------------------------------------- colours
def id_colour(key):
    """RGB uint8 colour of an integer key (deterministic; consecutive keys
    get well separated hues)."""
    key = int(key)
    hue = (key * _GOLDEN) % 1.0
    sat = 0.65 + 0.35 * ((key * 0.7548776662466927) % 1.0)
    val = 0.80 + 0.20 * ((key * 0.5698402909980532) % 1.0)
    i = int(hue * 6.0) % 6
    f = hue * 6.0 - int(hue * 6.0)
    p, q, t = val * (1 - sat), val * (1 - f * sat), val * (1 - (1 - f) * sat)
    rgb = [(val, t, p), (q, val, p), (p, val, t), (p, q, val), (t, p, val), (val, p, q)][i]
    return tuple(int(round(255 * c)) for c in rgb)


def _edges(labels):
    """Labelled pixels with a 4-neighbour of another label (or of none): the
    outline of every object, drawn inside it."""
    edge = np.zeros(labels.shape, bool)
    dx = labels[:, 1:] != labels[:, :-1]
    dy = labels[1:, :] != labels[:-1, :]
    edge[:, 1:] |= dx
    edge[:, :-1] |= dx
    edge[1:, :] |= dy
    edge[:-1, :] |= dy
    return edge & (labels >= 0)


def overlay(image, labels, keys=None, edges=True):
    """``labels`` (H, W) int (``-1`` = nothing) over the dimmed ``image`` (H, W, 3).

    ``keys``: ``{label: colour key}`` (default: the label itself); a label
    without an entry uses itself. Returns RGB uint8.
    """
    image = np.asarray(image)
    labels = np.asarray(labels)
    if labels.shape != image.shape[:2]:
        raise ValueError("overlay: labels %s and image %s differ in size"
                         % (labels.shape, image.shape[:2]))
    out = image.astype(np.float32) * DIM
    present = np.unique(labels[labels >= 0])
    if present.size:
        keys = keys or {}
        table = np.zeros((present.size, 3), np.float32)
        for i, lab in enumerate(present):
            table[i] = id_colour(keys.get(int(lab), int(lab)))
        inside = labels >= 0
        index = np.searchsorted(present, labels[inside])
        out[inside] = ALPHA * table[index] + (1 - ALPHA) * image[inside].astype(np.float32)
        if edges:
            out[_edges(labels)] *= EDGE_FACTOR
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- matching
def _overlaps(a, b):
    """``(ids_a, ids_b, counts)`` of the pixel pairs where both are labelled."""
    both = (a >= 0) & (b >= 0)
    if not both.any():
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs = np.stack([a[both].astype(np.int64), b[both].astype(np.int64)], 1)
    uniq, counts = np.unique(pairs, axis=0, return_counts=True)
    return uniq[:, 0], uniq[:, 1], counts


def _areas(labels):
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    return dict(zip(ids.tolist(), counts.tolist()))


def match_instances(pred, gt, min_iou=0.5):
    """``{predicted id: ground-truth id}`` of the pairs with IoU > ``min_iou``
    (for ``min_iou >= 0.5`` each id is in at most one pair)."""
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError("match_instances: %s vs %s" % (pred.shape, gt.shape))
    pa, ga = _areas(pred), _areas(gt)
    out = {}
    for p, g, n in zip(*_overlaps(pred, gt)):
        iou = n / float(pa[int(p)] + ga[int(g)] - n)
        if iou > min_iou:
            out[int(p)] = int(g)
    return out


def match_proposals(proposals, instances):
    """``{proposal id: instance id}``: a proposal and the final instance that
    are each other's largest overlap, when the instance covers more than half
    of the proposal (both maps at the same resolution)."""
    proposals, instances = np.asarray(proposals), np.asarray(instances)
    pa = _areas(proposals)
    ids_p, ids_i, counts = _overlaps(proposals, instances)
    best_of_p, best_of_i = {}, {}
    for p, i, n in zip(ids_p.tolist(), ids_i.tolist(), counts.tolist()):
        if n > best_of_p.get(p, (0, None))[0]:
            best_of_p[p] = (n, i)
        if n > best_of_i.get(i, (0, None))[0]:
            best_of_i[i] = (n, p)
    return {p: i for p, (n, i) in best_of_p.items()
            if best_of_i[i][1] == p and 2 * n > pa[p]}


def display_keys(instances, ground_truth=None, proposals=None):
    """Colour keys of every drawn object (module docstring).

    instances : (H, W) predicted instance index per pixel, -1 none.
    ground_truth : optional (H, W) ground-truth ``instanceIds`` value per
        instance pixel, -1 elsewhere (:func:`ground_truth_instances`).
    proposals : optional ``{stride: (H, W) proposal id, -1 none}`` (at the
        instances' resolution; ``None`` for a level not visited).

    Returns ``(instance_keys, proposal_keys)``: ``{index: key}`` and
    ``{stride: {proposal id: key}}``.
    """
    instances = np.asarray(instances)
    instance_keys = {k: k for k in _areas(instances)}
    if ground_truth is not None:
        instance_keys.update(match_instances(instances, ground_truth))
    proposal_keys = {}
    for stride, prop in (proposals or {}).items():
        if prop is None:
            continue
        keys = {p: PROPOSAL_KEY_BASE * int(stride) + p for p in _areas(prop)}
        for p, i in match_proposals(prop, instances).items():
            keys[p] = instance_keys[i]
        proposal_keys[stride] = keys
    return instance_keys, proposal_keys


def ground_truth_instances(instance_ids, thing_label_ids=None):
    """A Cityscapes ``instanceIds`` map -> (H, W) int64: the ``instanceIds``
    value on instances of the evaluated thing classes, -1 elsewhere (stuff,
    crowd/group regions, void)."""
    if thing_label_ids is None:
        from ..data.labels import THING_LABEL_IDS as thing_label_ids
    ids = np.asarray(instance_ids).astype(np.int64)
    thing = np.isin(ids // 1000, np.asarray(thing_label_ids)) & (ids >= 1000)
    return np.where(thing, ids, -1)


def cityscapes_palette():
    """(256, 3) uint8: the colour of every Cityscapes label id, from
    cityscapesScripts' label table (ids it does not define are black)."""
    from cityscapesscripts.helpers.labels import labels

    palette = np.zeros((256, 3), np.uint8)
    for lab in labels:
        if 0 <= lab.id < 256:
            palette[lab.id] = lab.color
    return palette


def colour_semantic(label_id_map, palette=None):
    """(H, W) label ids -> RGB uint8 with ``palette`` (default: Cityscapes)."""
    palette = cityscapes_palette() if palette is None else np.asarray(palette, np.uint8)
    ids = np.asarray(label_id_map).astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= len(palette)):
        raise ValueError("colour_semantic: label ids %d..%d outside the palette (0..%d)"
                         % (ids.min(), ids.max(), len(palette) - 1))
    return palette[ids]


# ---------------------------------------------------------------- layout
def _font(tile_width):
    scale = float(np.clip(tile_width / 700.0, 0.4, 1.4))
    return scale, max(1, int(round(scale * 1.6)))


def title_height(tile_width):
    """Height of the title bar above a tile ``tile_width`` wide."""
    scale, thick = _font(tile_width)
    (_, h), base = cv2.getTextSize("Ag", _FONT, scale, thick)
    return int(h + base + 2 * max(4, h // 2))


def tile_size(image_shape, tile_width):
    """(height, width) of a tile showing an image of ``image_shape``."""
    h, w = image_shape[:2]
    return max(1, int(round(h * tile_width / float(w)))), int(tile_width)


def _put_centred(canvas, text, y_centre, colour, tile_width):
    scale, thick = _font(tile_width)
    (tw, th), _ = cv2.getTextSize(text, _FONT, scale, thick)
    while tw > canvas.shape[1] - 4 and scale > 0.3:
        scale *= 0.9
        (tw, th), _ = cv2.getTextSize(text, _FONT, scale, thick)
    x = max(2, (canvas.shape[1] - tw) // 2)
    cv2.putText(canvas, text, (x, int(y_centre + th / 2)), _FONT, scale, colour, thick,
                cv2.LINE_AA)


def titled(tile, title):
    """``tile`` with a title bar above it."""
    w = tile.shape[1]
    bar = np.empty((title_height(w), w, 3), np.uint8)
    bar[:] = TITLE_BAR
    _put_centred(bar, title, bar.shape[0] / 2.0, TITLE_TEXT, w)
    return np.concatenate([bar, tile], axis=0)


def not_visited_tile(size, text="not visited"):
    """A grey (h, w) tile saying ``text`` (a cascade level that was skipped)."""
    h, w = size
    tile = np.empty((h, w, 3), np.uint8)
    tile[:] = NOT_VISITED
    _put_centred(tile, text, h / 2.0, (255, 255, 255), w)
    return tile


def hstack_tiles(tiles):
    """Tiles of one height side by side, ``GAP`` pixels apart."""
    h = tiles[0].shape[0]
    gap = np.empty((h, GAP, 3), np.uint8)
    gap[:] = BACKGROUND
    parts = []
    for i, t in enumerate(tiles):
        if t.shape[0] != h:
            raise ValueError("hstack_tiles: tile heights differ (%d vs %d)" % (t.shape[0], h))
        parts += ([gap] if i else []) + [t]
    return np.concatenate(parts, axis=1)


def _resize_labels(labels, size):
    labels = np.asarray(labels)
    if labels.shape == tuple(size):
        return labels
    h, w = labels.shape
    rows = np.minimum(((np.arange(size[0]) + 0.5) * h / size[0]).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(size[1]) + 0.5) * w / size[1]).astype(np.int64), w - 1)
    return labels[rows][:, cols]


def _resize_image(image, size):
    if image.shape[:2] == tuple(size):
        return np.ascontiguousarray(image)
    h, w = size
    interp = cv2.INTER_AREA if h < image.shape[0] else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(image), (w, h), interpolation=interp)


def _fraction(stride):
    return "1/%d" % stride


# ---------------------------------------------------------------- panels
def fig6_panel(image, instances, proposals, ground_truth=None, tile_width=512,
               not_visited_notes=None):
    """The Fig. 6 row of one frame, RGB uint8.

    image : (H, W, 3) RGB uint8.
    instances : (H, W) predicted instance index, -1 none.
    proposals : ``{stride: (H, W) proposal ids or None}`` for the strides of
        :data:`FIG6_STRIDES` (a missing or ``None`` entry: "not visited").
    ground_truth : optional (H, W) ground-truth instance ids, -1 none (the
        tile is left out when ``None``).
    not_visited_notes : ``{stride: why}``, added to a "not visited" tile.

    Returns ``(panel, info)``; ``info``: ``{"tiles": [titles], "tile_size":
    (h, w), "instance_keys", "proposal_keys"}``.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError("fig6_panel: image must be (H, W, 3), got %s" % (image.shape,))
    shape = image.shape[:2]
    for name, m in [("instances", instances), ("ground_truth", ground_truth)] + [
            ("proposals[%d]" % s, p) for s, p in (proposals or {}).items()]:
        if m is not None and np.asarray(m).shape != shape:
            raise ValueError("fig6_panel: %s is %s, the image %s"
                             % (name, np.asarray(m).shape, shape))
    visited = {s: (proposals or {}).get(s) for s in FIG6_STRIDES}
    instance_keys, proposal_keys = display_keys(instances, ground_truth, visited)
    size = tile_size(shape, tile_width)
    small = _resize_image(image, size)
    tiles, titles = [small], ["Image"]
    for s in FIG6_STRIDES:
        if visited[s] is None:
            why = (not_visited_notes or {}).get(s)
            note = "not visited" + (" (%s)" % why if why else "")
            tiles.append(not_visited_tile(size, note))
            titles.append("Proposals from %s" % _fraction(s))
        else:
            lab = _resize_labels(visited[s], size)
            tiles.append(overlay(small, lab, proposal_keys[s]))
            titles.append("Proposals from %s (%d)" % (_fraction(s), len(proposal_keys[s])))
    tiles.append(overlay(small, _resize_labels(instances, size), instance_keys))
    titles.append("Instance Seg. (%d)" % len(instance_keys))
    if ground_truth is not None:
        gt = np.asarray(ground_truth)
        tiles.append(overlay(small, _resize_labels(gt, size)))
        titles.append("Ground Truth (%d)" % len(_areas(gt)))
    panel = hstack_tiles([titled(t, title) for t, title in zip(tiles, titles)])
    return panel, {"tiles": titles, "tile_size": size, "instance_keys": instance_keys,
                   "proposal_keys": proposal_keys}


def proposals_at_full_resolution(cascade, geometry, strides=FIG6_STRIDES):
    """``{stride: (H, W) proposal ids or None}``: the proposals each level of
    ``strides`` handed on (``CascadeResult.proposals``), upsampled like the
    instances (:func:`~ssap_gluon.inference.instances.upsample_labels`, then
    ``geometry.restore``); ``None`` for a level the cascade did not visit."""
    from .instances import upsample_labels

    out = {}
    for s in strides:
        prop = cascade.proposals.get(s)
        if prop is None:
            out[s] = None
        else:
            out[s] = geometry.restore(upsample_labels(prop, s, geometry.out_size), "nearest")
    return out


def not_visited_reason(cascade, stride):
    """Why level ``stride`` has no proposals: the cascade started finer, or
    the level was skipped (its affinities not used, ``TEST.AFFINITY_STRIDES``)."""
    visited = sorted(set(cascade.segments) | set(cascade.proposals))
    if visited and stride > max(visited):
        return "cascade starts at %s" % _fraction(max(visited))
    return "level skipped"


def fig6_from_prediction(image, prediction, geometry, ground_truth=None, tile_width=512):
    """:func:`fig6_panel` of a :class:`~ssap_gluon.inference.predictor.FramePrediction`
    (``geometry``: the frame's scale-1 eval geometry, as ``Predictor.network``
    returns it)."""
    proposals = proposals_at_full_resolution(prediction.cascade, geometry)
    notes = {s: not_visited_reason(prediction.cascade, s)
             for s in FIG6_STRIDES if proposals[s] is None}
    return fig6_panel(image, prediction.instances.instance_map, proposals, ground_truth,
                      tile_width=tile_width, not_visited_notes=notes)


def fig7_panel(image, semantic_label_ids, instances, instance_keys=None, tile_width=512,
               palette=None):
    """The Fig. 7 pair of one frame, RGB uint8: the semantic map in the
    Cityscapes colours (``semantic_label_ids``: (H, W) label ids) | the
    instances over the dimmed image (``instance_keys`` as in
    :func:`display_keys`, so the colours match the Fig. 6 panel)."""
    image = np.asarray(image)
    size = tile_size(image.shape, tile_width)
    sem = colour_semantic(_resize_labels(semantic_label_ids, size), palette)
    inst = overlay(_resize_image(image, size), _resize_labels(instances, size), instance_keys)
    return hstack_tiles([titled(sem, "Semantic Seg."), titled(inst, "Instance Seg.")])


def write_panel(path, panel):
    """Write an RGB panel as PNG (atomically)."""
    from ..utils.io import write_png

    write_png(path, cv2.cvtColor(np.ascontiguousarray(panel), cv2.COLOR_RGB2BGR))

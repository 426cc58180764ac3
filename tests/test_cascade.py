"""The graph of Sec. 3.2 and the cascade: Eq. 2-3 and 6-8 by hand, the compiled
contracted-graph builder against plain loops, contraction keeps the energy,
proposals (erosion, upsampling, the finer level's check), the cascade on
exact pyramids, segmentation refinement, long-range edges, bad input."""
import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from ssap_gluon.partition import cascaded_partition, multicut_energy
from ssap_gluon.partition.cascade import (_node_map, check_proposals, contracted_graph,
                                          erode_labels, upsample_proposals)
from ssap_gluon.partition.graph import (affinity_logits, edge_costs, forward_offsets,
                                        grid_edges, pair_channels)
from ssap_gluon.partition.refinement import (PixelDistributions, js_divergence,
                                             refinement_factor, thing_distributions)
from ssap_gluon.targets import affinity_pyramid_targets, window_offsets

STRIDES = [4, 8, 16, 32, 64]


# ---------------------------------------------------------------------------
# Eq. 2-3, 6-8
# ---------------------------------------------------------------------------
def test_pair_channels_point_at_opposite_offsets():
    offsets = window_offsets(5)
    for dy, dx, j, j_back in pair_channels(5):
        assert offsets[j] == (dy, dx) and offsets[j_back] == (-dy, -dx)
    assert [(dy, dx) for dy, dx, _, _ in pair_channels(3)] == forward_offsets(3) == [
        (0, 1), (1, -1), (1, 0), (1, 1)]


def test_eq2_eq3_by_hand():
    # alpha = (0.9 + 0.7) / 2 = 0.8 -> log(0.8 / 0.2) = log 4
    assert edge_costs([0.9], [0.7], 1e-3)[0] == pytest.approx(math.log(4.0))
    # clipping keeps the cost finite: alpha = 1 -> log(0.999 / 0.001)
    assert affinity_logits([1.0, 0.0], 1e-3).tolist() == pytest.approx(
        [math.log(999.0), -math.log(999.0)])
    assert affinity_logits([0.5], 1e-3)[0] == 0.0


def test_js_divergence_by_hand_and_against_scipy():
    p = np.array([[0.5, 0.5], [1.0, 0.0], [0.2, 0.8]])
    q = np.array([[1.0, 0.0], [0.0, 1.0], [0.2, 0.8]])
    # row 0: M = (0.75, 0.25); KL(p||M) = 0.5 log(2/3) + 0.5 log 2, KL(q||M) = log(4/3)
    by_hand = 0.5 * ((0.5 * math.log(2 / 3) + 0.5 * math.log(2)) + math.log(4 / 3))
    got = js_divergence(p, q)
    assert got[0] == pytest.approx(by_hand, abs=1e-12)
    assert got[1] == pytest.approx(math.log(2))  # disjoint: the maximum
    assert got[2] == 0.0
    rng = np.random.default_rng(0)
    a, b = rng.dirichlet(np.ones(8), 50), rng.dirichlet(np.ones(8), 50)
    want = [jensenshannon(x, y) ** 2 for x, y in zip(a, b)]  # scipy: sqrt(JS), natural log
    np.testing.assert_allclose(js_divergence(a, b), want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(refinement_factor(p, q)[1], 0.5)


def test_thing_distributions_renormalise_over_thing_classes():
    probs = np.zeros((4, 1, 2), np.float32)
    probs[:, 0, 0] = [0.5, 0.1, 0.3, 0.1]  # things: classes 1, 2
    probs[:, 0, 1] = [1.0, 0.0, 0.0, 0.0]  # no thing probability at all
    d = thing_distributions(probs, [1, 2])
    np.testing.assert_allclose(d[:, 0, 0], [0.25, 0.75])
    np.testing.assert_allclose(d[:, 0, 1], [0.5, 0.5])


# ---------------------------------------------------------------------------
# the compiled contracted-graph builder against plain loops
# ---------------------------------------------------------------------------
def brute_force_graph(node, group, shape, levels, window, eps, refine=None):
    h, w = shape
    channel = {o: j for j, o in enumerate(window_offsets(window))}
    acc = {}
    for lift, aff in levels:
        ch, cw = aff.shape[1:]
        for cy in range(ch):
            for cx in range(cw):
                y, x = cy * lift, cx * lift
                if y >= h or x >= w or node[y * w + x] < 0:
                    continue
                p, a = y * w + x, node[y * w + x]
                for dy, dx in forward_offsets(window):
                    ny, nx = cy + dy, cx + dx
                    if not (0 <= ny < ch and 0 <= nx < cw) or ny * lift >= h or nx * lift >= w:
                        continue
                    q = ny * lift * w + nx * lift
                    b = node[q]
                    if b < 0 or b == a or group[q] != group[p]:
                        continue
                    alpha = (float(aff[channel[(dy, dx)], cy, cx])
                             + float(aff[channel[(-dy, -dx)], ny, nx])) / 2
                    if refine is not None:
                        alpha *= math.exp(-jensenshannon(refine.rows[refine.index[p]],
                                                         refine.rows[refine.index[q]]) ** 2)
                    alpha = min(max(alpha, eps), 1 - eps)
                    key = (min(a, b), max(a, b))
                    acc[key] = acc.get(key, 0.0) + math.log(alpha / (1 - alpha))
    return acc


@pytest.mark.parametrize("window,refine", [(3, False), (5, False), (5, True)])
def test_contracted_graph_equals_plain_loops(window, refine):
    rng = np.random.default_rng(window + 10 * refine)
    h, w = 13, 18
    group = rng.integers(-1, 3, (h, w)).astype(np.int32)
    group[group < 0] = -1
    seeds = rng.integers(-1, 6, (h, w)).astype(np.int32)
    seeds[rng.random((h, w)) < 0.5] = -1
    node, _ = _node_map(group, seeds)
    levels = [(1, rng.random((window * window, h, w)).astype(np.float32)),
              (2, rng.random((window * window, 7, 9)).astype(np.float32)),
              (4, rng.random((window * window, 4, 5)).astype(np.float32))]
    probs = rng.dirichlet(np.ones(6), (h, w)).transpose(2, 0, 1)
    dist = PixelDistributions.of(probs, [1, 2, 4, 5], group >= 0) if refine else None
    edges, costs = contracted_graph(node, group.ravel(), (h, w), levels, window, 1e-3, dist)
    want = brute_force_graph(node, group.ravel(), (h, w), levels, window, 1e-3, dist)
    got = {(int(a), int(b)): c for (a, b), c in zip(edges, costs)}
    assert set(got) == set(want) and len(got) == len(edges) > 20
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-9, abs=1e-9)
    assert (edges[:, 0] < edges[:, 1]).all() and (np.diff(edges[:, 0]) >= 0).all()


def test_contraction_keeps_the_energy_of_partitions_that_respect_proposals():
    rng = np.random.default_rng(4)
    h, w, window = 20, 24, 5
    aff = rng.random((window * window, h, w)).astype(np.float32)
    group = np.zeros((h, w), np.int32)
    seeds = np.full((h, w), -1, np.int32)
    seeds[2:9, 3:12] = 0
    seeds[12:18, 5:20] = 1
    node, node_group = _node_map(group, seeds)
    edges, costs = contracted_graph(node, group.ravel(), (h, w), [(1, aff)], window, 1e-3)
    pix_node, _ = _node_map(group, None)  # every pixel its own node
    pix_edges, pix_costs = contracted_graph(pix_node, group.ravel(), (h, w), [(1, aff)],
                                            window, 1e-3)
    for trial in range(5):
        node_labels = rng.integers(0, 4, node_group.size)
        pixel_labels = node_labels[node]  # respects the proposals
        assert multicut_energy(edges, costs, node_labels) == pytest.approx(
            multicut_energy(pix_edges, pix_costs, pixel_labels[pix_node.argsort()]), rel=1e-12)


# ---------------------------------------------------------------------------
# proposals
# ---------------------------------------------------------------------------
def test_erode_labels_by_hand():
    labels = np.array([[0, 0, 0, 1],
                       [0, 0, 0, 1],
                       [0, 0, 0, -1]])
    # the map border does not erode; a pixel next to another label or to -1 does
    np.testing.assert_array_equal(erode_labels(labels, 1), [[0, 0, -1, -1],
                                                            [0, 0, -1, -1],
                                                            [0, 0, -1, -1]])
    np.testing.assert_array_equal(erode_labels(labels, 0), labels)


def test_upsample_proposals_is_symmetric_and_conservative():
    coarse = np.array([[0, 0, 1],
                       [0, 0, 1]])
    fine = upsample_proposals(coarse, (4, 6), 2)
    # fine column 3 lies halfway between coarse columns 1 (label 0) and 2 (label 1): none;
    # past the last coarse pixel (column 5, row 3) the edge pixel counts
    np.testing.assert_array_equal(fine, [[0, 0, 0, -1, 1, 1]] * 4)
    # factor 4: fine 4i+1 is nearest to i, 4i+2 a tie, 4i+3 nearest to i+1
    fine4 = upsample_proposals(np.array([[5, 7]]), (1, 8), 4)
    np.testing.assert_array_equal(fine4, [[5, 5, -1, 7, 7, 7, 7, 7]])


def test_the_bounds_that_skip_the_divergence_hold():
    """D_JS <= ln 2 * TV (Lin 1991) and, with a common argmax k,
    TV <= (1 - p_k) + (1 - q_k): the shortcuts of the proposal check."""
    rng = np.random.default_rng(7)
    for c in (2, 3, 8):
        for concentration in (0.1, 1.0, 10.0):
            p = rng.dirichlet(np.full(c, concentration), 20000)
            q = rng.dirichlet(np.full(c, concentration), 20000)
            tv = 0.5 * np.abs(p - q).sum(axis=1)
            assert (js_divergence(p, q) <= math.log(2) * tv + 1e-12).all()
            same = p.argmax(1) == q.argmax(1)
            k = p.argmax(1)
            bound = (1 - p[np.arange(len(p)), k]) + (1 - q[np.arange(len(q)), k])
            assert (tv[same] <= bound[same] + 1e-12).all()


def test_refined_proposal_check_decides_as_eq6_in_full():
    """The compiled check's shortcuts never change a decision: against plain
    Eq. 6-8 on every pair, with distributions from confident to flat."""
    rng = np.random.default_rng(8)
    h, w, window = 24, 30, 5
    channel = {o: j for j, o in enumerate(window_offsets(window))}
    for trial, concentration in enumerate((0.05, 0.5, 5.0)):
        probs = rng.dirichlet(np.full(5, concentration), (h, w)).transpose(2, 0, 1)
        seeds = rng.integers(-1, 3, (h, w)).astype(np.int32)
        aff = rng.uniform(0.3, 1.0, (window * window, h, w)).astype(np.float32)
        dist = PixelDistributions.of(probs, [0, 1, 2, 3], seeds >= 0)
        got = check_proposals(seeds, aff, window, refine=dist)
        released = np.zeros((h, w), bool)
        for y in range(h):
            for x in range(w):
                if seeds[y, x] < 0:
                    continue
                for dy, dx in forward_offsets(window):
                    ny, nx = y + dy, x + dx
                    if not (ny < h and 0 <= nx < w) or seeds[ny, nx] != seeds[y, x]:
                        continue
                    alpha = (float(aff[channel[(dy, dx)], y, x])
                             + float(aff[channel[(-dy, -dx)], ny, nx])) / 2
                    p = dist.rows[dist.index[y * w + x]]
                    q = dist.rows[dist.index[ny * w + nx]]
                    if alpha * math.exp(-js_divergence(p[None], q[None])[0]) < 0.5:
                        released[y, x] = released[ny, nx] = True
        np.testing.assert_array_equal(got < 0, released | (seeds < 0), err_msg=str(trial))
        assert released.any() and (~released & (seeds >= 0)).any()


def test_check_proposals_releases_a_swallowed_thin_object():
    # a proposal covering two instances: the 1-pixel-wide one (column 5) fell
    # between a coarse level's pixels. The finer level's affinities say 0 across.
    h, w, window = 8, 10, 5
    inst = np.zeros((h, w), np.int32)
    inst[:, 5] = 1
    (target, _), = affinity_pyramid_targets(np.zeros((h, w)), inst + 1, window, [1], [0])
    seeds = np.zeros((h, w), np.int32)
    out = check_proposals(seeds, target.astype(np.float32), window)
    # released: the thin object and every pixel within reach 2 of it
    np.testing.assert_array_equal(out[0], [0, 0, 0, -1, -1, -1, -1, -1, 0, 0])
    assert (out == out[:1]).all()


# ---------------------------------------------------------------------------
# the cascade on exact pyramids
# ---------------------------------------------------------------------------
THINGS = [1, 2]


def scene():
    """256x256 input: stuff class 0; class 1 objects A (large), B (touching A),
    C (split by a 20-px stuff bar, parts 40 px apart at most); class 2 object D
    right next to A."""
    sem = np.zeros((256, 256), np.int32)
    inst = np.zeros((256, 256), np.int32)
    sem[40:140, 30:150], inst[40:140, 30:150] = 1, 1      # A
    sem[60:120, 150:200], inst[60:120, 150:200] = 1, 2    # B touches A
    sem[170:230, 20:80], inst[170:230, 20:80] = 1, 3      # C, left part
    sem[170:230, 100:160], inst[170:230, 100:160] = 1, 3  # C, right part
    sem[150:250, 200:250], inst[150:250, 200:250] = 2, 4  # D
    return sem, inst


def pyramid(sem, inst, strides=STRIDES, num_classes=3):
    sems = []
    for s in strides:
        lab = sem[::s, ::s]
        sems.append(np.eye(num_classes, dtype=np.float32)[lab].transpose(2, 0, 1).copy())
    affs = [t.astype(np.float32) for t, _ in
            affinity_pyramid_targets(sem, inst, 5, strides, THINGS)]
    return sems, affs


def assert_same_instances(labels, inst_level):
    thing = inst_level > 0
    pairs = set(zip(inst_level[thing].tolist(), labels[thing].tolist()))
    assert len(pairs) == len(set(inst_level[thing].tolist())) == len(
        set(labels[thing].tolist())), sorted(pairs)
    assert (labels[~thing] == -1).all()


@pytest.mark.parametrize("init", STRIDES)
@pytest.mark.parametrize("refinement,seed", [(False, "proposals"), (True, "proposals"),
                                             (True, "warm_start")])
def test_cascade_recovers_the_instances_of_an_exact_pyramid(init, refinement, seed):
    sem, inst = scene()
    sems, affs = pyramid(sem, inst)
    result = cascaded_partition(sems, affs, STRIDES, 5, THINGS, init_stride=init,
                                refinement=refinement, refinement_seed=seed)
    assert result.labels.shape == (64, 64)
    assert_same_instances(result.labels, inst[::4, ::4])  # C comes out whole
    assert sorted(result.segments) == [s for s in STRIDES if s <= init]


def test_long_range_edges_join_parts_the_own_window_cannot_reach():
    sem, inst = scene()
    sems, affs = pyramid(sem, inst)
    c = inst[::4, ::4] == 3
    alone = cascaded_partition(sems, affs, STRIDES, 5, THINGS, init_stride=4,
                               long_range_edges=False)
    assert np.unique(alone.labels[c]).size == 2  # 20 px apart > the 1/4 window's reach
    joined = cascaded_partition(sems, affs, STRIDES, 5, THINGS, init_stride=4)
    assert np.unique(joined.labels[c]).size == 1
    # Table 5 "A1 only": only the 1/4 level takes part, so nothing joins them
    a1 = cascaded_partition(sems, affs, STRIDES, 5, THINGS, init_stride=16,
                            affinity_strides=[4])
    assert np.unique(a1.labels[c]).size == 2 and sorted(a1.segments) == [4]


def test_refinement_joins_an_object_the_semantic_head_split_between_classes():
    """Eq. 6: one object whose 1/4 class scores are split between two thing
    classes but uncertain (JS small) is joined by the refinement; confident,
    disjoint classes (JS = log 2) halve the affinity and stay apart."""
    sem = np.zeros((128, 128), np.int32)
    inst = np.zeros((128, 128), np.int32)
    sem[32:96, 16:112], inst[32:96, 16:112] = 1, 7
    sems, affs = pyramid(sem, inst)
    for s, p in zip(STRIDES, sems):
        half = 64 // s  # the right half of the object is called class 2
        p[1:, :, half:] = p[1:, :, half:][::-1]
    uncertain = [p.copy() for p in sems]
    for p in uncertain:  # 0.55 / 0.45 instead of 1 / 0
        thing = p[1] + p[2] > 0
        p[1][thing], p[2][thing] = np.where(p[1][thing] > 0, 0.55, 0.45), np.where(
            p[1][thing] > 0, 0.45, 0.55)
    obj = inst[::4, ::4] == 7
    for probs, refine, pieces in ((sems, False, 2), (sems, True, 2), (uncertain, False, 2),
                                  (uncertain, True, 1)):
        result = cascaded_partition(probs, affs, STRIDES, 5, THINGS, init_stride=16,
                                    refinement=refine)
        assert np.unique(result.labels[obj]).size == pieces, (refine, pieces)


def test_threads_and_repeats_give_identical_labels():
    sem, inst = scene()
    sems, affs = pyramid(sem, inst)
    rng = np.random.default_rng(0)
    noisy = [np.clip(a + rng.normal(0, 0.3, a.shape), 0, 1).astype(np.float32) for a in affs]
    runs = [cascaded_partition(sems, noisy, STRIDES, 5, THINGS, num_threads=t).labels
            for t in (1, 2, 1)]
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])


# ---------------------------------------------------------------------------
# bad and degenerate input
# ---------------------------------------------------------------------------
def test_bad_input_is_a_clear_error():
    sem, inst = scene()
    sems, affs = pyramid(sem, inst)
    bad = [a.copy() for a in affs]
    bad[2][3, 1, 2] = np.nan
    with pytest.raises(ValueError, match=r"affinity level 1/16 holds a non-finite value at "
                                         r"index \(3, 1, 2\)"):
        cascaded_partition(sems, bad, STRIDES, 5, THINGS)
    bad[2][3, 1, 2] = 1.5
    with pytest.raises(ValueError, match=r"affinity level 1/16 holds values in \[0, 1.5\].*"
                                         "sigmoid"):
        cascaded_partition(sems, bad, STRIDES, 5, THINGS)
    with pytest.raises(ValueError, match=r"affinity level 1/32 has shape \(25, 3, 2\); "
                                         r"expected \(25, 8, 8\)"):
        cascaded_partition(sems, affs[:3] + [np.zeros((25, 3, 2), np.float32)] + affs[4:],
                           STRIDES, 5, THINGS)
    with pytest.raises(ValueError, match=r"semantic level 1/8 has shape"):
        cascaded_partition(sems[:1] + [sems[1][:, :-1]] + sems[2:], affs, STRIDES, 5, THINGS)
    with pytest.raises(ValueError, match="must include the finest level 4"):
        cascaded_partition(sems, affs, STRIDES, 5, THINGS, affinity_strides=[8, 16])
    with pytest.raises(ValueError, match="init_stride 12 is not a level"):
        cascaded_partition(sems, affs, STRIDES, 5, THINGS, init_stride=12)
    with pytest.raises(ValueError, match="thing_classes"):
        cascaded_partition(sems, affs, STRIDES, 5, [1, 5])


def test_degenerate_frames():
    sem, inst = scene()
    # no thing pixel: no instance, no error
    empty = cascaded_partition(*pyramid(np.zeros_like(sem), np.zeros_like(inst)), STRIDES, 5,
                               THINGS)
    assert empty.num_instances == 0 and (empty.labels == -1).all()
    # the whole frame one instance
    one = cascaded_partition(*pyramid(np.ones_like(sem), np.ones_like(inst)), STRIDES, 5,
                             THINGS)
    assert one.num_instances == 1 and (one.labels == 0).all()
    # a class present at 1/4 only (a 6-px object no coarser lattice pixel hits)
    sem2, inst2 = np.zeros_like(sem), np.zeros_like(inst)
    sem2[101:107, 101:107], inst2[101:107, 101:107] = 2, 9
    small = cascaded_partition(*pyramid(sem2, inst2), STRIDES, 5, THINGS, init_stride=64)
    assert small.num_instances == 1 and (small.labels >= 0).sum() == (inst2[::4, ::4] > 0).sum()


def test_full_pixel_graph_matches_grid_edges():
    # with no proposals and one group, the builder's edges are the pixel graph's
    h, w, window = 6, 7, 5
    node, _ = _node_map(np.zeros((h, w), np.int32), None)
    edges, _ = contracted_graph(node, np.zeros(h * w, np.int32), (h, w),
                                [(1, np.full((25, h, w), 0.7, np.float32))], window, 1e-3)
    want = {tuple(sorted(e)) for e in grid_edges(h, w, window).tolist()}
    assert {tuple(e) for e in edges.tolist()} == want


@pytest.mark.parametrize("init", [4, 16])
def test_refinement_seeded_by_the_coarser_proposals(init):
    """REFINEMENT_SEED coarser_proposals: the finest level is the refinement step
    (no per-class partition there); exact pyramids still give the instances."""
    sem, inst = scene()
    sems, affs = pyramid(sem, inst)
    result = cascaded_partition(sems, affs, STRIDES, 5, THINGS, init_stride=init,
                                refinement_seed="coarser_proposals")
    assert_same_instances(result.labels, inst[::4, ::4])
    assert "refinement" in result.num_nodes and 4 not in result.num_nodes

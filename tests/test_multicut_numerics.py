"""Numerical limits of the multicut solvers: the accepted cost range, and KL at
large cost magnitudes.

* Costs are accepted while sum |c| <= MAX_ABS_COST_SUM = DBL_MAX / 4, the
  bound under which no intermediate value of the solvers or of
  multicut_energy can overflow (docs/MULTICUT.md "Cost range"). Beyond it
  the call is refused with a GraphInputError; it used to hang for ever
  (a gain overflowed to inf, then NaN, and the move heap's `key != gain`
  test never became false), or multicut_energy returned inf.
* KL applies a step only when its gain, summed again with a compensated sum,
  is provably positive. At large magnitudes its incrementally updated gains
  carry rounding errors far above kl_epsilon; steps with an exact gain <= 0
  were applied and undone until kl_outer_iterations ran out (1-23 s on
  graphs of 2000 nodes with costs between 1e100 and 1e300).

Calls that could hang run in a subprocess with its own timeout: the compiled
loop holds no GIL, so nothing in this process could stop it.
"""
import itertools
import json
import os
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from ssap_gluon.partition import GraphInputError, contract_graph, multicut, multicut_energy
from ssap_gluon.partition.checks import MAX_ABS_COST_SUM

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOLVERS = ("gaec", "gaec+kl", "kl")
LIMIT = np.finfo(np.float64).max / 4


def exact_energy(edges, costs, labels):
    """The energy as an exact rational (every float64 is one)."""
    return sum((Fraction(float(c)) for (u, v), c in zip(np.asarray(edges).tolist(), costs)
                if labels[u] != labels[v]), Fraction(0))


def run_isolated(code, timeout=120):
    """Run `code` in a fresh interpreter; return what it printed as JSON, or
    fail the test if it does not finish within `timeout` seconds."""
    try:
        done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail("the solver did not return within %d s (hang)" % timeout)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------
# the accepted cost range
# ---------------------------------------------------------------------------

def test_the_limit_is_a_quarter_of_the_largest_double_in_python_and_in_cpp():
    from ssap_gluon._ext import multicut as extension
    assert MAX_ABS_COST_SUM == LIMIT == 4.4942328371557893e+307
    assert extension.MAX_ABS_COST_SUM == MAX_ABS_COST_SUM
    with np.errstate(over="ignore"):
        # exactly a quarter: times 4 is the largest double, the next double times 4 is inf
        assert 4 * MAX_ABS_COST_SUM == np.finfo(np.float64).max
        assert np.isinf(4 * np.nextafter(MAX_ABS_COST_SUM, np.inf))


def test_the_hanging_graph_of_the_report_is_refused_for_every_solver():
    # two parallel edges -1e308 and 1.7e308: a KL move adds -2c = -3.4e308 = -inf to a
    # gain of +inf (from 2e308), giving NaN; KL then never returned
    result = run_isolated("""
import json
from ssap_gluon.partition import GraphInputError, multicut
out = {}
for solver in ("kl", "gaec+kl", "gaec"):
    for outer in (100, 1):
        try:
            multicut(2, [[0, 1], [0, 1]], [-1e308, 1.7e308], solver=solver,
                     kl_outer_iterations=outer)
            out[solver + str(outer)] = "returned"
        except GraphInputError as error:
            out[solver + str(outer)] = str(error)
print(json.dumps(out))
""")
    assert len(result) == 6
    for message in result.values():
        assert message.startswith(
            "costs: the sum of |costs| is inf (beyond float64), above the limit 4.4942e+307 "
            "= (largest float64) / 4"), message
        assert "largest is costs[1] = 1.7e+308 for edge (0, 1)" in message


def test_the_limit_itself_is_accepted_and_just_beyond_is_refused():
    # path 0-1-2 with parallel edges of opposite sign: (0,1) sums to +0.1 L (join),
    # (1,2) to -0.1 L (cut); sum |c| = 0.3 L + 0.2 L + 0.2 L + 0.3 L = L
    edges = [[0, 1], [1, 0], [1, 2], [2, 1]]
    costs = np.array([0.3, -0.2, 0.2, -0.3]) * LIMIT
    assert np.abs(costs).sum() <= LIMIT
    for solver in SOLVERS:
        labels, info = multicut(3, edges, costs, solver=solver, return_info=True)
        assert labels.tolist() == [0, 0, 1], solver
        assert info["energy"] == costs[2] + costs[3] == multicut_energy(edges, costs, labels)
        assert np.isfinite(info["start_energy"]) and not info["kl_rolled_back"]
    beyond = costs * (1 + 2.0 ** -40)
    for call in (lambda: multicut(3, edges, beyond),
                 lambda: multicut_energy(edges, beyond, [0, 0, 1]),
                 lambda: contract_graph(edges, beyond, [0, 0, 1])):
        with pytest.raises(GraphInputError, match=r"above the limit 4\.4942e\+307 .* the "
                                                  r"largest is costs\[0\] = 1\.3483e\+307 for "
                                                  r"edge \(0, 1\)"):
            call()


def test_multicut_energy_no_longer_overflows_to_inf():
    # the exact energy is 0 (the four costs cancel); summed in float64 the first two
    # make inf. Refused now, with the same rule as the solvers.
    edges = [[0, 1]] * 4
    costs = [1e308, 1e308, -1e308, -1e308]
    with pytest.raises(GraphInputError, match=r"sum of \|costs\| is inf"):
        multicut_energy(edges, costs, [0, 1])
    # below the limit every partial sum is finite: the exact 0 comes out
    scaled = np.array(costs) / 1e308 * (LIMIT / 4)
    assert multicut_energy(edges, scaled, [0, 1]) == 0.0


def test_a_cost_beyond_float64_is_named_as_such():
    costs = np.array([1.0, 1e300], np.longdouble) * np.longdouble(1e100)
    if not np.isfinite(costs[1]):            # longdouble is float64 on this platform
        pytest.skip("numpy.longdouble has no wider range here")
    with pytest.raises(GraphInputError, match=r"costs\[1\] = 1e\+400 for edge \(1, 2\) is outside "
                                              r"the float64 range"):
        multicut(3, [[0, 1], [1, 2]], costs)


def test_the_compiled_solver_checks_the_range_itself():
    # the Cython entry point is callable directly; it must not hang either
    result = run_isolated("""
import json
import numpy as np
from ssap_gluon._ext import multicut as extension
out = []
for costs, eps, fraction, outer in (([-1e308, 1.7e308], 1e-6, 1.0, 100),
                                    ([1.0, float("nan")], 1e-6, 1.0, 100),
                                    ([1.0, -1.0], float("nan"), 1.0, 100),
                                    ([1.0, -1.0], -1.0, 1.0, 100),
                                    ([1.0, -1.0], 1e-6, 0.0, 100),
                                    ([1.0, -1.0], 1e-6, 1.0, -1)):
    try:
        extension.solve(2, np.array([[0, 1], [0, 1]], np.int64), np.array(costs), None,
                        "kl", outer, eps, fraction, 1000)
        out.append("returned")
    except ValueError as error:
        out.append(str(error))
print(json.dumps(out))
""")
    assert result[0].startswith("multicut: the costs must be finite with sum of |cost| <= "
                                "DBL_MAX / 4") and "got sum inf" in result[0]
    assert result[1].startswith("multicut: the costs must be finite") and "got sum nan" in result[1]
    assert result[2:4] == ["multicut: kl_epsilon must be finite and >= 0"] * 2
    assert result[4] == "multicut: kl_depth_fraction must be in (0, 1]"
    assert result[5] == "multicut: kl_outer_iterations must be >= 0"


# ---------------------------------------------------------------------------
# KL at large magnitudes: only steps of exact positive gain
# ---------------------------------------------------------------------------

def test_kl_stops_on_a_four_node_graph_whose_gains_drown_in_rounding():
    # Costs 1e18 and 100 / 10: the ulp of 1e18 is 128, so the incremental gains
    # showed +-128 where the exact gain was 0 or -10, and KL moved nodes back and
    # forth through all 100 outer iterations. The optimum (brute force over the
    # 15 partitions) cuts the two -1e18 edges and keeps 100 and 10 joined.
    edges = np.array([[0, 1], [1, 2], [1, 3], [2, 3]])
    costs = np.array([100.0, -1e18, -1e18, 10.0])
    for solver in ("kl", "gaec+kl"):
        labels, info = multicut(4, edges, costs, solver=solver, return_info=True)
        assert labels.tolist() == [0, 0, 1, 1], solver
        assert info["energy"] == -2e18
        assert info["kl_outer_iterations"] <= 2, (solver, info)


def _mixed_magnitude_graph(seed, num_nodes, low, high):
    rng = np.random.default_rng(seed)
    edges = rng.integers(0, num_nodes, (3 * num_nodes, 2))
    costs = rng.choice([-1.0, 1.0], len(edges)) * 10.0 ** rng.uniform(low, high, len(edges))
    return edges, costs


@pytest.mark.parametrize("seed, low, high", [(0, 0, 18), (1, 100, 300), (2, -300, 300),
                                             (3, 0, 18), (4, 100, 300)])
def test_every_kl_outer_iteration_lowers_the_exact_energy(seed, low, high):
    # KL stopped after k outer iterations, for k = 1, 2, ...: while the partition
    # changes, its exact (rational) energy strictly decreases, never rises above the
    # start's, and KL ends well before its 100 iterations.
    num_nodes = 40
    edges, costs = _mixed_magnitude_graph(seed, num_nodes, low, high)
    previous = np.arange(num_nodes)
    previous_energy = exact_energy(edges, costs, previous)
    _, info = multicut(num_nodes, edges, costs, solver="kl", return_info=True)
    total = info["kl_outer_iterations"]
    assert total < 20, total
    for k in range(1, total + 1):
        labels = multicut(num_nodes, edges, costs, solver="kl", kl_outer_iterations=k)
        energy = exact_energy(edges, costs, labels)
        assert energy < previous_energy or (energy == previous_energy and k == total), k
        # a later iteration that changes nothing ends KL: the last one may repeat
        previous, previous_energy = labels, energy


def test_kl_on_the_slow_report_graph_converges_and_never_rises():
    # One of the reported slow graphs: 1453 nodes, costs +-10^U(100, 300); KL ran all
    # 100 outer iterations (3.3 s) while the energy stayed the same up to rounding.
    rng = np.random.default_rng(4)
    num_nodes = int(rng.integers(2, 2000))
    edges = rng.integers(0, num_nodes, (int(rng.integers(0, 4 * num_nodes)), 2))
    costs = 10.0 ** rng.uniform(100, 300, len(edges)) * rng.choice([-1, 1], len(edges))
    assert (num_nodes, len(edges)) == (1453, 5481)
    gaec = multicut(num_nodes, edges, costs, solver="gaec")
    labels, info = multicut(num_nodes, edges, costs, solver="gaec+kl", return_info=True)
    assert info["kl_outer_iterations"] < 10
    assert exact_energy(edges, costs, labels) <= exact_energy(edges, costs, gaec)
    components = info["num_clusters"]
    assert components == labels.max() + 1


def test_brute_force_optimum_is_reached_with_ties_at_huge_scale():
    # the same small graphs at scale 1 and at scale 1e290 have the same optima;
    # multiplying by a power of two keeps every sum exact, so KL must behave the same
    rng = np.random.default_rng(5)
    scale = 2.0 ** 960
    for _ in range(30):
        n = int(rng.integers(3, 7))
        pairs = np.array(list(itertools.combinations(range(n), 2)))
        edges = pairs[rng.random(len(pairs)) < 0.7]
        costs = rng.integers(-3, 4, len(edges)).astype(float)
        for solver in SOLVERS:
            small = multicut(n, edges, costs, solver=solver, kl_epsilon=0.0)
            large = multicut(n, edges, costs * scale, solver=solver, kl_epsilon=0.0)
            assert np.array_equal(small, large), (solver, edges.tolist(), costs.tolist())

#!/usr/bin/env python
"""Benchmark the multicut solvers against bioimage-cpp's, in the same run.

For pixel graphs with a 5x5 window (every pixel joined to its 12 forward
neighbours) at 64x128, 128x256 and 256x512 nodes, with costs the logits of
noisy same-instance probabilities (ssap_gluon.partition.synthetic), times and
energies of

* this project's ``gaec`` and ``gaec+kl`` (and ``gaec+kl`` without the cap on
  unimproved KL moves, i.e. bjoern-andres/graph's own stopping rule only),
* bioimage-cpp's GreedyAdditiveMulticut and GreedyAdditive + KernighanLin,

each the best of ``--repeats`` runs, interleaved so machine load hits all
alike. bioimage-cpp's graph object is built outside the timed region; ours
is timed end to end (input checks, adjacency, solve). Goal: at 256x512,
ours ``gaec+kl`` in at most half of bioimage-cpp's GAEC+KL time, with an
energy no higher.

    python scripts/bench_multicut.py [--json PATH] [--repeats 3] [--sizes 64x128,128x256,256x512]
"""
import argparse
import os
import platform
import sys
import time

import numpy as np

from ssap_gluon.partition import multicut, multicut_energy
from ssap_gluon.partition.synthetic import pixel_multicut_problem
from ssap_gluon.utils.io import write_json_atomic

GOAL_SIZE = (256, 512)


def parse_sizes(text):
    sizes = []
    for item in text.split(","):
        try:
            h, w = item.lower().split("x")
            sizes.append((int(h), int(w)))
        except ValueError:
            raise SystemExit("--sizes: expected HxW[,HxW...], e.g. 64x128,256x512; got %r" % text)
    return sizes


def our_solvers():
    return {
        "ours gaec": lambda p: multicut(p[0], p[1], p[2], solver="gaec"),
        "ours gaec+kl": lambda p: multicut(p[0], p[1], p[2], solver="gaec+kl"),
        "ours gaec+kl (andres stop)": lambda p: multicut(
            p[0], p[1], p[2], solver="gaec+kl", kl_unimproved_slack=None),
    }


def bioimage_solvers():
    try:
        from bioimage_cpp.graph import UndirectedGraph
        from bioimage_cpp.graph import multicut as bmc
    except ImportError:
        print("bioimage-cpp is not installed (pip install bioimage-cpp): reference rows skipped",
              file=sys.stderr)
        return {}, None

    def prepare(problem):
        num_nodes, edges, costs = problem[:3]
        # from_unique_edges wants sorted rows; labels are per node, so the
        # edge order does not matter for the result
        order = np.lexsort((edges[:, 1], edges[:, 0]))
        graph = UndirectedGraph.from_unique_edges(num_nodes, edges[order].astype(np.uint64))
        return graph, costs[order]

    def run(solver_factory):
        def solve(prepared):
            graph, costs = prepared
            objective = bmc.MulticutObjective(graph, costs)
            return np.asarray(solver_factory().optimize(objective), np.int64)
        return solve

    solvers = {
        "bioimage-cpp GAEC": run(lambda: bmc.GreedyAdditiveMulticut()),
        "bioimage-cpp GAEC+KL": run(lambda: bmc.ChainedMulticutSolvers(
            [bmc.GreedyAdditiveMulticut(), bmc.KernighanLinMulticut()])),
    }
    return solvers, prepare


def bench(sizes, repeats, seed):
    ours = our_solvers()
    theirs, prepare = bioimage_solvers()
    rows = []
    for height, width in sizes:
        problem = pixel_multicut_problem(height, width, seed=seed)
        num_nodes, edges, costs = problem[:3]
        prepared = prepare(problem) if prepare else None
        times = {name: [] for name in list(ours) + list(theirs)}
        energies, clusters = {}, {}
        for _ in range(repeats):
            for name, solve in list(ours.items()) + list(theirs.items()):
                argument = problem if name in ours else prepared
                start = time.perf_counter()
                labels = solve(argument)
                times[name].append(time.perf_counter() - start)
                energies[name] = multicut_energy(edges, costs, labels)
                clusters[name] = int(np.unique(labels).size)
        for name in times:
            rows.append({"size": "%dx%d" % (height, width), "nodes": num_nodes,
                         "edges": int(len(edges)), "solver": name,
                         "seconds": min(times[name]), "energy": energies[name],
                         "clusters": clusters[name]})
    return rows


def summary(rows):
    by = {(r["size"], r["solver"]): r for r in rows}
    goal = "%dx%d" % GOAL_SIZE
    ours, theirs = by.get((goal, "ours gaec+kl")), by.get((goal, "bioimage-cpp GAEC+KL"))
    if not ours or not theirs:
        return None
    return {"size": goal,
            "time_ratio": ours["seconds"] / theirs["seconds"],
            "energy_difference": ours["energy"] - theirs["energy"],
            "goal_time_met": ours["seconds"] <= 0.5 * theirs["seconds"],
            "goal_energy_met": ours["energy"] <= theirs["energy"] + 1e-9 * abs(theirs["energy"])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--repeats", type=int, default=3, help="runs per solver; the best counts")
    parser.add_argument("--sizes", default="64x128,128x256,256x512", help="HxW list")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated problems")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        raise SystemExit("--repeats must be >= 1")
    rows = bench(parse_sizes(args.sizes), args.repeats, args.seed)

    print("%-9s %-9s %-28s %9s %16s %8s" % ("size", "edges", "solver", "seconds", "energy",
                                             "clusters"))
    for r in rows:
        print("%-9s %-9d %-28s %9.3f %16.3f %8d" % (r["size"], r["edges"], r["solver"],
                                                     r["seconds"], r["energy"], r["clusters"]))
    result = summary(rows)
    if result:
        print("\n%s: ours gaec+kl / bioimage-cpp GAEC+KL time = %.2f (goal <= 0.5: %s); "
              "energy difference ours - theirs = %.3f (goal <= 0: %s)"
              % (result["size"], result["time_ratio"], "met" if result["goal_time_met"] else "MISSED",
                 result["energy_difference"], "met" if result["goal_energy_met"] else "MISSED"))
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    if args.json:
        write_json_atomic(args.json, {
            "rows": rows, "summary": result, "repeats": args.repeats, "seed": args.seed,
            "machine": {"cpus": os.cpu_count(), "load_average": load,
                        "platform": platform.platform(), "python": platform.python_version()}})
        print("wrote %s" % args.json)


if __name__ == "__main__":
    main()

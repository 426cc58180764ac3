"""Multi-node training with MXNet's parameter-server kvstore and dmlc_tracker.

One process per node ("worker") trains on its shard of every epoch
(``EpochSeededSampler`` with ``num_parts = kv.num_workers``, ``part_index =
kv.rank``); gradients are summed across workers by ``dist_sync`` (or
``dist_device_sync``: summed on the GPUs before they go to the servers) and
every worker applies the same update locally (``update_on_kvstore=False``), so
the optimizer state lives on the workers and rank 0 can checkpoint it.
SyncBatchNorm synchronises the devices *within* one worker only (mxnet's
SyncBatchNorm is single-process): across nodes, batch statistics are per node.

Processes are started by the ``dmlc_tracker`` package that ships with the
mxnet 1.9.1 wheel (``mxnet/tools/launch.py`` drives it): it starts a
scheduler, ``S`` servers and ``N`` workers, each running the same command with
``DMLC_ROLE`` set; a server or scheduler process turns into a parameter server
inside ``import mxnet`` and never returns to the script. The tracker still calls
``Thread.isAlive()``, removed in Python 3.9, so :func:`launch` restores that
alias before using it.
"""
import argparse
import os
import shlex
import subprocess
import threading
import types

from ..config import CHOICES

#: kvstore types that span processes (the "dist_*" values of TRAIN.KVSTORE)
DIST_KVSTORES = tuple(k for k in CHOICES["TRAIN.KVSTORE"] if k.startswith("dist_"))


class DistributedLaunchError(RuntimeError):
    """A distributed kvstore was asked for outside the distributed launcher."""


def is_distributed(cfg):
    return cfg.TRAIN.KVSTORE in DIST_KVSTORES


def create_kvstore(cfg):
    """``(kvstore, rank, num_workers)``: a dist KVStore object, or the kvstore
    type string for one machine (gluon creates it, or none for one device)."""
    if not is_distributed(cfg):
        return cfg.TRAIN.KVSTORE, 0, 1
    if "DMLC_ROLE" not in os.environ:
        raise DistributedLaunchError(
            "TRAIN.KVSTORE %s needs a process started by the distributed launcher "
            "(DMLC_ROLE is not set); run it through scripts/launch_dist.py, see "
            "docs/TRAINING.md 'Multi-node'" % cfg.TRAIN.KVSTORE)
    import mxnet as mx

    kv = mx.kv.create(cfg.TRAIN.KVSTORE)
    return kv, kv.rank, kv.num_workers


def _patch_thread_is_alive():
    # dmlc_tracker (mxnet 1.9.1 wheel) polls Thread.isAlive(), gone since Python 3.9.
    if not hasattr(threading.Thread, "isAlive"):
        threading.Thread.isAlive = threading.Thread.is_alive


class _LocalJob:
    """Tracks the processes the local launcher starts, so that one failing
    worker stops the whole job (dmlc_tracker would otherwise wait forever for
    the dead worker) and the launcher exits non-zero."""

    def __init__(self):
        self.lock = threading.Lock()
        self.procs = []
        self.failures = []

    def call(self, cmd, shell=False, env=None, executable=None, **kwargs):
        proc = subprocess.Popen(cmd, shell=shell, env=env, executable=executable, **kwargs)
        with self.lock:
            self.procs.append(proc)
            if self.failures:  # the job already failed: do not let this one run
                proc.terminate()
        rc = proc.wait()
        if rc != 0:
            with self.lock:
                first = not self.failures
                if first:
                    self.failures.append((rc, cmd if isinstance(cmd, str) else " ".join(cmd)))
                others = [p for p in self.procs if p is not proc]
            if first:
                for other in others:
                    if other.poll() is None:
                        other.terminate()
        return rc

    def check_call(self, cmd, **kwargs):
        # (the scheduler) quiet when we stopped it because a worker had failed
        self.call(cmd, **kwargs)
        return 0

    def module(self):
        """A stand-in for the ``subprocess`` module of dmlc_tracker's local/tracker."""
        shim = types.SimpleNamespace(**{k: getattr(subprocess, k) for k in dir(subprocess)
                                        if not k.startswith("__")})
        shim.call = self.call
        shim.check_call = self.check_call
        return shim


def launch(num_workers, command, num_servers=None, launcher="local", hostfile=None,
           sync_dst_dir=None, env=(), host_ip=None):
    """Start a job with dmlc_tracker (blocks until it ends).

    ``command``: list of strings run on every node (workers, servers and the
    scheduler); ``env``: ``["NAME:VALUE", ...]`` exported to all of them
    (``ssh``: together with OMP_NUM_THREADS, LD_LIBRARY_PATH, ... of this shell).
    ``launcher``: ``local`` (all processes on this machine, for testing) or
    ``ssh`` / ``mpi`` (``hostfile``: one host per line, ``host[:port]``).
    """
    _patch_thread_is_alive()
    from dmlc_tracker import opts

    if num_servers is None:
        num_servers = num_workers
    if launcher in ("ssh", "mpi") and not hostfile:
        raise ValueError("the %s launcher needs a hostfile (one host per line)" % launcher)
    if hostfile and not os.path.isfile(hostfile):
        raise FileNotFoundError("hostfile not found: %s" % hostfile)
    args = ["--num-workers", str(num_workers), "--num-servers", str(num_servers),
            "--cluster", launcher]
    if hostfile:
        args += ["--host-file", hostfile]
    if sync_dst_dir:
        args += ["--sync-dst-dir", sync_dst_dir]
    if host_ip is None and launcher == "local":
        host_ip = "127.0.0.1"
    if host_ip:
        args += ["--host-ip", host_ip]
    for item in env:
        args += ["--env", item]
    # dmlc_tracker joins the command with spaces into a shell line: quote each word
    args += [shlex.quote(word) for word in command]
    parsed = opts.get_opts(args)
    job = None
    if launcher == "local":
        from dmlc_tracker import local as backend
        from dmlc_tracker import tracker

        # keep every connection of a local job on the loopback interface
        os.environ.setdefault("DMLC_NODE_HOST", "127.0.0.1")
        os.environ.setdefault("DMLC_INTERFACE", "lo")
        job = _LocalJob()
        backend.subprocess = tracker.subprocess = job.module()
    elif launcher == "ssh":
        from dmlc_tracker import ssh as backend
    elif launcher == "mpi":
        from dmlc_tracker import mpi as backend
    else:
        raise ValueError("unknown launcher %r (local, ssh or mpi)" % launcher)
    backend.submit(parsed)
    if job is not None and job.failures:
        rc, cmd = job.failures[0]
        raise RuntimeError("distributed job failed: a process exited with status %d (%s); "
                           "the others were stopped" % (rc, cmd))


def build_arg_parser():
    p = argparse.ArgumentParser(
        description="Start a multi-node ssap-gluon training job with mxnet's dmlc_tracker.")
    p.add_argument("-n", "--num-workers", type=int, required=True,
                   help="worker processes (one per node)")
    p.add_argument("-s", "--num-servers", type=int, default=None,
                   help="parameter-server processes (default: as many as workers)")
    p.add_argument("--launcher", choices=("local", "ssh", "mpi"), default="ssh")
    p.add_argument("-H", "--hostfile", default=None,
                   help="hosts for ssh/mpi, one 'host[:port]' per line")
    p.add_argument("--sync-dst-dir", default=None,
                   help="ssh: rsync the current directory to this path on every host first")
    p.add_argument("--env", action="append", default=[],
                   help="NAME:VALUE exported to every process (repeatable)")
    p.add_argument("--host-ip", default=None,
                   help="address the scheduler listens on (default: auto)")
    p.add_argument("command", nargs=argparse.REMAINDER,
                   help="the command every process runs, e.g. python scripts/train.py ...")
    return p

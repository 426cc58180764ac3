"""Devices: parse TRAIN.DEVICES, split a batch evenly, run one thread per device.

Why a thread per device: SyncBatchNorm (``gluon.contrib.nn.SyncBatchNorm``)
makes every device's forward wait at a barrier for the other devices' batch
statistics. Called one device after the other from a single Python thread,
the first device's op waits for a partner that is never issued. On two CPU
contexts, ResNet-18 with SyncBatchNorm hangs that way every time, imperative
or hybridized, whether the forwards are issued in one ``autograd.record``
block or device by device; with one Python thread per device (gluoncv's
``Parallel``) it runs (docs/TRAINING.md, "SyncBN on CPU"). So the trainer
always runs the per-device forward/backward in :class:`DeviceThreads`.

Three more rules every threaded or hybridized path follows:

* :func:`build_graph` first. A hybridized block builds its cached graph on
  its first call, and gluon's graph building is not thread-safe (two device
  threads building at once fail inside ``Block.name_scope``). Building it
  once per device, one device after the other, in inference mode (where
  SyncBatchNorm does not synchronise, so it cannot block) removes the race.
* No host-synchronous call inside a device thread (``mx.nd.array`` from
  numpy, ``asnumpy``, ``wait_to_read``, ``asscalar``). Such a call waits for an
  engine op that runs on cpu(0)'s worker; on CPU contexts that worker may be
  busy in another device's SyncBatchNorm barrier (forward or backward), which
  waits for *this* thread's SyncBN op -- never issued: a deadlock (seen in a
  test, one run in a few). The trainer uploads inputs and targets in its main
  thread and reads the losses after the threads return. On GPUs the barrier
  runs on the GPU's worker, but the rule costs nothing there.
* :func:`wait_for_parameter_writes` before reading parameters on the host
  (saving, averaging, validating). A hybridized ``static_alloc`` graph
  updates BatchNorm's running mean/var during backward (CPU) without telling
  mxnet's engine it writes them, so ``param.data().asnumpy()`` -- even after
  ``wait_to_read()`` on that very array -- can return the values of the
  previous iteration. Only a global ``mx.nd.waitall()`` is a barrier for those
  writes (docs/TRAINING.md, "Saved weights and BatchNorm statistics").
"""
import queue
import threading

import mxnet as mx

from ..config import ConfigError, parse_device_spec


def build_graph(net, inputs):
    """Call ``net`` once per input (one per device), sequentially, in inference
    mode, and wait: finishes deferred parameter shapes and the hybridized graph
    before device threads call ``net`` concurrently. ``inputs``: NDArrays, one
    per device, shaped as the threads will call it."""
    for x in inputs:
        with mx.autograd.predict_mode():
            net(x)
        mx.nd.waitall()


def wait_for_parameter_writes():
    """Barrier for every pending mxnet operation, including the untracked
    BatchNorm running-statistics writes of static_alloc graphs (see above)."""
    mx.nd.waitall()


def parse_devices(spec, num_gpus=None):
    """``"cpu"`` -> [cpu(0)]; ``"cpu:2"`` -> [cpu(0), cpu(1)]; ``"gpu:0,1"`` ->
    [gpu(0), gpu(1)]; ``"gpu"`` -> [gpu(0)].

    For ``cpu:N`` the number is a *count* of CPU contexts (they share the
    host's cores; useful to test multi-device code); for ``gpu:`` a list of
    device ids. The syntax is the config's (``config.parse_device_spec``);
    ``num_gpus`` (default: ``mx.context.num_gpus()``) checks that the GPUs exist.
    """
    kind, ids = parse_device_spec(spec)
    if kind == "cpu":
        return [mx.cpu(i) for i in ids]
    if num_gpus is None:
        num_gpus = mx.context.num_gpus()
    missing = [i for i in ids if i >= num_gpus]
    if missing:
        raise ConfigError("config key TRAIN.DEVICES: %r asks for GPU %s, but this mxnet sees "
                          "%d GPU(s)%s" % (spec, ",".join(map(str, missing)), num_gpus,
                                           " (is the CPU build of mxnet installed? run "
                                           "scripts/check_gpu_env.py)" if num_gpus == 0 else ""))
    return [mx.gpu(i) for i in ids]


def per_device_batch(total, num_devices, num_workers=1, sync_bn=False):
    """Images per device: SOLVER.IMS_PER_BATCH split evenly over workers and devices.

    Uneven splits are refused for every norm layer: SyncBatchNorm needs equal
    per-device batches (its mean over devices is a mean of per-device means),
    and equal slices keep ``trainer.step(num_slices)`` an exact batch mean.
    """
    slices = num_devices * num_workers
    if total % slices:
        raise ConfigError(
            "config key SOLVER.IMS_PER_BATCH: %d images cannot be split evenly over %d "
            "worker(s) x %d device(s)%s; use a multiple of %d"
            % (total, num_workers, num_devices,
               " (SyncBatchNorm needs equal per-device batches)" if sync_bn else "", slices))
    return total // slices


class DeviceThreads:
    """Run ``fn(device_index, *args)`` for every device at once, one thread per device.

    The threads live as long as this object (``close()`` or ``with``), so
    every step reuses them. With a single device the call runs in the caller's
    thread. An exception in any device's call is re-raised in the caller once
    every device has returned (the lowest device index wins).
    """

    def __init__(self, num_devices):
        self.num_devices = int(num_devices)
        self._inboxes = []
        self._outbox = queue.Queue()
        self._threads = []
        if self.num_devices > 1:
            for i in range(self.num_devices):
                inbox = queue.Queue()
                thread = threading.Thread(target=self._serve, args=(i, inbox),
                                          name="ssap-device-%d" % i, daemon=True)
                thread.start()
                self._inboxes.append(inbox)
                self._threads.append(thread)

    def _serve(self, index, inbox):
        while True:
            job = inbox.get()
            if job is None:
                return
            fn, args = job
            try:
                self._outbox.put((index, True, fn(index, *args)))
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                self._outbox.put((index, False, e))

    def run(self, fn, per_device_args):
        """``[fn(i, *per_device_args[i]) for i in devices]``, concurrently."""
        if len(per_device_args) != self.num_devices:
            raise ValueError("DeviceThreads.run: %d argument tuples for %d devices"
                             % (len(per_device_args), self.num_devices))
        if self.num_devices == 1:
            return [fn(0, *per_device_args[0])]
        if not self._threads:
            raise RuntimeError("DeviceThreads is closed")
        for inbox, args in zip(self._inboxes, per_device_args):
            inbox.put((fn, tuple(args)))
        results = [None] * self.num_devices
        errors = []
        for _ in range(self.num_devices):
            index, ok, value = self._outbox.get()
            if ok:
                results[index] = value
            else:
                errors.append((index, value))
        if errors:
            index, error = min(errors, key=lambda e: e[0])
            raise error
        return results

    def close(self):
        for inbox in self._inboxes:
            inbox.put(None)
        for thread in self._threads:
            thread.join(timeout=10)
        self._inboxes, self._threads = [], []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

"""Datasets and DataLoaders from a config, with reproducible, non-repeating randomness.

Seeding: the sampler runs in the main process and yields keys
``(index, SeedSequence(base_seed, spawn_key=(epoch, index)))``; the dataset
builds the sample's ``numpy.random.Generator`` from that key inside whichever
worker draws it. So

* no two samples share a random stream — not across worker processes (forked
  workers would otherwise all inherit the parent's RNG state) and not across
  epochs (the epoch is part of the key);
* the augmentation of (epoch, index) is the same for any ``num_workers`` and
  any worker scheduling, and a resumed run reproduces it with ``set_epoch``;
* the shuffle order of an epoch comes from ``SeedSequence(base_seed,
  spawn_key=(epoch,))``.

The base seed is ``TRAIN.SEED`` unless given.
"""
import os

import mxnet as mx
import numpy as np
from mxnet.gluon.data import DataLoader, Sampler

from ..config import ConfigError
from .base import resolve_root
from .cityscapes import CityscapesInstances
from .coco_panoptic import CocoPanoptic
from .labels import INSTANCE_IGNORE
from .transforms import build_transform

#: Role names accepted by build_dataset / build_dataloader -> config key of the split.
SPLIT_KEYS = {"train": "TRAIN_SPLIT", "val": "VAL_SPLIT", "test": "TEST_SPLIT"}


def resolve_split(cfg, split):
    """``"train"``/``"val"``/``"test"`` -> ``cfg.DATASET.<ROLE>_SPLIT``; other names as given."""
    return cfg.DATASET[SPLIT_KEYS[split]] if split in SPLIT_KEYS else split


def _check_input_config(cfg, num_classes, is_train):
    inp = cfg.INPUT
    if 0 <= inp.IGNORE_LABEL < num_classes:
        raise ConfigError("config key INPUT.IGNORE_LABEL: %d is a class index (the dataset has "
                          "%d classes); use a value outside 0..%d, e.g. 255"
                          % (inp.IGNORE_LABEL, num_classes, num_classes - 1))
    if cfg.MODEL.NUM_CLASSES != num_classes:
        raise ConfigError("config key MODEL.NUM_CLASSES: %d, but the %s dataset has %d classes"
                          % (cfg.MODEL.NUM_CLASSES, cfg.DATASET.NAME, num_classes))
    coarsest = max(cfg.AFFINITY.STRIDES)
    if is_train and any(s <= 0 or s % coarsest for s in inp.CROP_SIZE):
        raise ConfigError("config key INPUT.CROP_SIZE: %r must be positive multiples of %d "
                          "(the coarsest level of AFFINITY.STRIDES)"
                          % (list(inp.CROP_SIZE), coarsest))
    if not is_train and inp.SIZE_DIVISOR > 1 and inp.SIZE_DIVISOR % coarsest:
        raise ConfigError("config key INPUT.SIZE_DIVISOR: %d must be a multiple of %d (the "
                          "coarsest level of AFFINITY.STRIDES), or 0 for no padding"
                          % (inp.SIZE_DIVISOR, coarsest))
    for key in ("SIZE_DIVISOR", "SCALE_STEP", "LONG_EDGE"):
        if inp[key] < 0:
            raise ConfigError("config key INPUT.%s: must not be negative, got %r"
                              % (key, inp[key]))
    if any(s <= 0 for s in inp.STD):
        raise ConfigError("config key INPUT.STD: %r must be positive" % list(inp.STD))


class DatasetClasses:
    """What a model's outputs mean, without listing a split's frames:
    ``num_classes``, ``class_names``, ``thing_train_ids``, ``label_ids`` (the
    dataset's own id of every class index) and ``ignore_label``."""

    def __init__(self, num_classes, class_names, thing_train_ids, label_ids, ignore_label):
        self.num_classes = int(num_classes)
        self.class_names = tuple(class_names)
        self.thing_train_ids = tuple(int(c) for c in thing_train_ids)
        self.label_ids = np.asarray(label_ids)
        self.ignore_label = int(ignore_label)


def dataset_classes(cfg, split=None):
    """The :class:`DatasetClasses` of ``cfg``'s dataset: Cityscapes (and
    SynthCity) from the official label table, no file read; COCO panoptic from
    the ``categories`` of the ``split`` (default: the val split) JSON. The
    config's class-related keys are checked against them."""
    name = cfg.DATASET.NAME
    if name == "cityscapes":
        ds = CityscapesInstances
        classes = DatasetClasses(ds.num_classes, ds.class_names, ds.thing_train_ids,
                                 ds.label_ids, cfg.INPUT.IGNORE_LABEL)
    elif name == "coco_panoptic":
        root = resolve_root(cfg.DATASET.ROOT, "COCO_DATASET")
        split_name = resolve_split(cfg, split or "val")
        json_path = os.path.join(root, cfg.DATASET.COCO_JSON.format(split=split_name))
        categories = CocoPanoptic._read_json(json_path)["categories"]
        classes = DatasetClasses(
            len(categories), [c["name"] for c in categories],
            [i for i, c in enumerate(categories) if c.get("isthing", 0)],
            [int(c["id"]) for c in categories], cfg.INPUT.IGNORE_LABEL)
    else:
        raise ConfigError("config key DATASET.NAME: unknown dataset %r" % name)
    _check_input_config(cfg, classes.num_classes, is_train=False)
    return classes


def build_dataset(cfg, split, is_train, transform="auto", with_labels=None, scale=1.0):
    """The dataset of ``cfg.DATASET.NAME`` for ``split``.

    ``transform="auto"``: the train transform if ``is_train`` else the eval
    transform at ``scale``; ``None``: raw samples (uint8 image, full size).
    ``with_labels=None``: the dataset's default (Cityscapes: no labels for ``test``).
    """
    name = cfg.DATASET.NAME
    split_name = resolve_split(cfg, split)
    if isinstance(transform, str) and transform == "auto":
        transform = build_transform(cfg, is_train, scale=scale)
    common = dict(root=cfg.DATASET.ROOT, split=split_name, transform=transform,
                  ignore_label=cfg.INPUT.IGNORE_LABEL)
    if name == "cityscapes":
        dataset = CityscapesInstances(with_labels=with_labels, **common)
    elif name == "coco_panoptic":
        dataset = CocoPanoptic(
            with_labels=True if with_labels is None else with_labels,
            json_pattern=cfg.DATASET.COCO_JSON,
            panoptic_dir_pattern=cfg.DATASET.COCO_PANOPTIC_DIR,
            image_dir_pattern=cfg.DATASET.COCO_IMAGE_DIR, **common)
    else:
        raise ConfigError("config key DATASET.NAME: unknown dataset %r" % name)
    _check_input_config(cfg, dataset.num_classes, is_train)
    return dataset


class EpochSeededSampler(Sampler):
    """Yields ``(index, seed)`` keys; see the module docstring.

    ``num_parts`` / ``part_index`` shard every epoch's order over processes
    of a distributed run (each part gets ``len // num_parts`` keys of the same
    permutation). Each ``iter()`` is one epoch; ``set_epoch`` sets the next one.
    """

    def __init__(self, length, shuffle, seed=0, num_parts=1, part_index=0):
        if not 0 <= part_index < num_parts:
            raise ValueError("part_index %d not in [0, num_parts=%d)" % (part_index, num_parts))
        self._length = length
        self._shuffle = shuffle
        self._seed = int(seed)
        self._num_parts = num_parts
        self._part_index = part_index
        self._next_epoch = 0
        self._skip = 0
        self.epoch = None

    def set_epoch(self, epoch, skip=0):
        """The next ``iter()`` is epoch ``epoch`` without its first ``skip``
        keys (a run resumed mid-epoch); later epochs are whole."""
        self._next_epoch = int(epoch)
        self._skip = int(skip)

    def epoch_order(self, epoch):
        if self._shuffle:
            rng = np.random.default_rng(np.random.SeedSequence(self._seed, spawn_key=(epoch,)))
            order = rng.permutation(self._length)
        else:
            order = np.arange(self._length)
        if self._num_parts > 1:
            per_part = self._length // self._num_parts
            order = order[self._part_index::self._num_parts][:per_part]
        return order

    def __iter__(self):
        self.epoch = self._next_epoch
        self._next_epoch += 1
        skip, self._skip = self._skip, 0
        for index in self.epoch_order(self.epoch)[skip:].tolist():
            yield index, np.random.SeedSequence(self._seed, spawn_key=(self.epoch, index))

    def __len__(self):
        return self._length // self._num_parts if self._num_parts > 1 else self._length


class PadBatchify:
    """Stack samples into ``(B,3,H,W)`` float32, ``(B,H,W)`` int32, ``(B,H,W)`` int32 NDArrays.

    Samples of different sizes (eval on COCO) are padded bottom/right to the
    largest, with the padding values of the sample contract (image 0, semantic
    ``ignore_label``, instance -1). ``shared_memory``: allocate in
    ``cpu_shared`` so worker processes hand batches over without copies.
    """

    def __init__(self, ignore_label=255, shared_memory=False):
        self.ignore_label = ignore_label
        self.shared_memory = shared_memory

    def __call__(self, samples):
        height = max(s[0].shape[1] for s in samples)
        width = max(s[0].shape[2] for s in samples)
        n = len(samples)
        images = np.zeros((n, 3, height, width), dtype=np.float32)
        semantic = np.full((n, height, width), self.ignore_label, dtype=np.int32)
        instance = np.full((n, height, width), INSTANCE_IGNORE, dtype=np.int32)
        for i, (img, sem, ins) in enumerate(samples):
            h, w = sem.shape
            images[i, :, :h, :w] = img
            semantic[i, :h, :w] = sem
            instance[i, :h, :w] = ins
        ctx = mx.Context("cpu_shared", 0) if self.shared_memory else mx.cpu()
        return [mx.nd.array(a, ctx=ctx, dtype=a.dtype) for a in (images, semantic, instance)]


class SeededDataLoader(DataLoader):
    """A Gluon DataLoader over an :class:`EpochSeededSampler` (exposed as ``.sampler``)."""

    def __init__(self, dataset, sampler, batch_size, last_batch, num_workers, prefetch,
                 timeout=120):
        shared = num_workers > 0
        super().__init__(dataset, batch_size=batch_size, sampler=sampler,
                         last_batch=last_batch,
                         batchify_fn=PadBatchify(dataset.ignore_label, shared),
                         num_workers=num_workers, thread_pool=False,
                         prefetch=prefetch if num_workers > 0 else None, timeout=timeout)
        self.dataset = dataset
        self.sampler = sampler

    def set_epoch(self, epoch, skip=0):
        """The next ``iter()`` is this epoch, without its first ``skip`` samples
        (resume a run mid-schedule)."""
        self.sampler.set_epoch(epoch, skip)

    def close(self):
        """Stop the worker processes now (rather than at garbage collection)."""
        if self._worker_pool is not None:
            self._worker_pool.terminate()
            self._worker_pool.join()
            self._worker_pool = None


def build_dataloader(cfg, split, is_train, batch_size=None, shuffle=None, num_workers=None,
                     seed=None, num_parts=1, part_index=0, dataset=None, timeout=120):
    """A worker-process DataLoader of ``(image, semantic, instance)`` batches.

    Defaults: ``batch_size`` = ``SOLVER.IMS_PER_BATCH`` for training (the
    total over devices), 1 for evaluation; ``shuffle`` = ``is_train``;
    ``num_workers`` = ``DATALOADER.NUM_WORKERS``; ``seed`` = ``TRAIN.SEED``.
    Training drops the last incomplete batch (every step sees a full batch),
    evaluation keeps it. ``split`` is a role (``train``/``val``/``test``, see
    :func:`resolve_split`) or a split folder name. ``timeout``: seconds to
    wait for a worker's batch before raising.
    """
    if dataset is None:
        dataset = build_dataset(cfg, split, is_train)
    if batch_size is None:
        batch_size = cfg.SOLVER.IMS_PER_BATCH if is_train else 1
    if shuffle is None:
        shuffle = is_train
    if num_workers is None:
        num_workers = cfg.DATALOADER.NUM_WORKERS
    if seed is None:
        seed = cfg.TRAIN.SEED
    if batch_size <= 0:
        raise ValueError("batch_size must be positive, got %r" % batch_size)
    if is_train and len(dataset) // num_parts < batch_size:
        raise ValueError("split %r has %d frames (per part), fewer than one training batch "
                         "of %d" % (resolve_split(cfg, split), len(dataset) // num_parts,
                                    batch_size))
    sampler = EpochSeededSampler(len(dataset), shuffle, seed, num_parts, part_index)
    return SeededDataLoader(dataset, sampler, batch_size,
                            last_batch="discard" if is_train else "keep",
                            num_workers=num_workers, prefetch=cfg.DATALOADER.PREFETCH,
                            timeout=timeout)

"""What every ssap-gluon dataset shares: the sample contract and seeded keys.

A dataset item is ``(image, semantic, instance)`` as docs/DESIGN.md
"Sample contract" says. Subclasses say where a frame's files are and how to
read them (``load_image``, ``load_labels``, ``image_path``, ``label_path``,
``name``) and set the class attributes; this base loads the raw sample
(:meth:`load`), applies the transform and decides where its randomness comes
from.

Keys: ``dataset[i]`` takes either an index, or a pair ``(i, seed)`` where
``seed`` is anything :func:`numpy.random.default_rng` accepts. The seeded
form is what :class:`ssap_gluon.data.loader.EpochSeededSampler` yields, so a
sample's augmentation depends only on (base seed, epoch, index) — never on
which worker process drew it or on the order workers finish.
"""
import os

import numpy as np
from mxnet.gluon.data import Dataset

from .labels import IGNORE_LABEL


class DatasetError(ValueError):
    """A dataset on disk is missing, incomplete or malformed; the message names the path."""


def dataset_title(name, root):
    """How reports name a dataset: "SynthCity" for the embedded default (its root
    holds the generator's manifest), else ``DATASET.NAME`` ("cityscapes", ...)."""
    from .synthcity.writer import MANIFEST_NAME

    if root and os.path.isfile(os.path.join(root, MANIFEST_NAME)):
        return "SynthCity"
    return {"cityscapes": "Cityscapes", "coco_panoptic": "COCO panoptic"}.get(name, name)


def resolve_root(root, env_var):
    """``root``, else ``$env_var``; relative paths resolve against the current directory."""
    if not root:
        root = os.environ.get(env_var, "")
        if not root:
            raise DatasetError(
                "no dataset root: set the config key DATASET.ROOT or the environment "
                "variable %s" % env_var)
    root = os.path.abspath(os.path.expanduser(root))
    if not os.path.isdir(root):
        raise DatasetError(
            "dataset root %s does not exist (set the config key DATASET.ROOT or the "
            "environment variable %s to the folder that holds the dataset)" % (root, env_var))
    return root


class SegmentationDataset(Dataset):
    """Base class: subclasses provide ``load_image``, ``load_labels``,
    ``image_path``, ``label_path``, ``name`` and the class metadata.

    Attributes required by the sample contract:

    * ``num_classes``: number of semantic classes (train ids ``0..C-1``)
    * ``class_names``: tuple of ``num_classes`` names
    * ``thing_train_ids``: train ids whose pixels carry instance ids
    * ``ignore_label``: semantic value of void/padding pixels (255)
    * ``label_ids``: the dataset's own label id of every class index
      (Cityscapes labelId, COCO category id), for writing predictions
    """

    num_classes = 0
    class_names = ()
    thing_train_ids = ()
    ignore_label = IGNORE_LABEL
    label_ids = ()

    def __init__(self, transform=None, with_labels=True):
        self.transform = transform
        self.with_labels = with_labels

    # -- to implement -----------------------------------------------------
    def __len__(self):
        raise NotImplementedError

    def load_image(self, index):
        """``uint8 (H,W,3)`` RGB image of frame ``index``."""
        raise NotImplementedError

    def load_labels(self, index):
        """``(semantic int32 (H,W), instance int32 (H,W))`` of frame ``index``."""
        raise NotImplementedError

    def label_path(self, index):
        """The file the labels of frame ``index`` come from (for error messages)."""
        raise NotImplementedError

    def image_path(self, index):
        """The image file of frame ``index`` (for error messages)."""
        raise NotImplementedError

    def name(self, index):
        """A stable, unique name of the frame (used for prediction files)."""
        raise NotImplementedError

    # -- shared -----------------------------------------------------------
    def load(self, index):
        """Raw sample: ``(image uint8 (H,W,3) RGB, semantic int32 (H,W), instance int32 (H,W))``.

        Without labels (``with_labels=False``) semantic is all ``ignore_label``
        and instance all -1.
        """
        image = self.load_image(index)
        if not self.with_labels:
            return (image,) + self._empty_labels(*image.shape[:2])
        semantic, instance = self.load_labels(index)
        if semantic.shape != image.shape[:2]:
            raise DatasetError("%s is %dx%d but its labels %s are %dx%d"
                               % (self.image_path(index), image.shape[0], image.shape[1],
                                  self.label_path(index), semantic.shape[0], semantic.shape[1]))
        return image, semantic, instance

    def _empty_labels(self, height, width):
        return (np.full((height, width), self.ignore_label, dtype=np.int32),
                np.full((height, width), -1, dtype=np.int32))

    def _check_index(self, index):
        n = len(self)
        if not isinstance(index, (int, np.integer)) or not -n <= index < n:
            raise IndexError("%s index %r out of range for %d frames"
                             % (type(self).__name__, index, n))
        return int(index) % n

    def __getitem__(self, key):
        # No cv2.setNumThreads(1) here for the worker processes: in a forked
        # child whose parent already ran OpenCV's pthreads pool that call
        # hangs forever (OpenCV 4.11); plain cv2 calls in the child are fine.
        if isinstance(key, tuple):
            index, seed = key
            rng = np.random.default_rng(seed)
        else:
            index, rng = key, None
        image, semantic, instance = self.load(self._check_index(index))
        if self.transform is None:
            return image, semantic, instance
        return self.transform(image, semantic, instance, rng=rng)

"""Cityscapes label ids -> train ids, thing classes and crowd rules.

Everything here is derived from cityscapesScripts' own label table
(``cityscapesscripts.helpers.labels.labels``) at import time, so the project
uses exactly the official definitions: the 19 evaluated classes (train ids
0..18), the 8 thing classes that carry instances, and which raw label ids
exist at all. Nothing is typed in by hand.

Lookup tables are 256-entry numpy arrays indexed by the raw ``labelIds``
value (``uint8`` PNG), so decoding a label map is one fancy-indexing call.
"""
import numpy as np
from cityscapesscripts.helpers.labels import labels as _OFFICIAL_LABELS

#: Semantic value of pixels that no loss or metric looks at.
IGNORE_LABEL = 255

#: Instance value of pixels masked out of instance losses (void, crowd, padding).
INSTANCE_IGNORE = -1

#: ``instanceIds`` values below this are a plain label id (stuff, or a crowd /
#: group region of a thing class); from it on, ``labelId * 1000 + k``.
INSTANCE_ID_OFFSET = 1000

_LUT_SIZE = 256


def _build_tables():
    # Only label ids a uint8 labelIds PNG can hold; "license plate" has id -1
    # and never appears in labelIds images.
    real = [lab for lab in _OFFICIAL_LABELS if 0 <= lab.id < _LUT_SIZE]
    evaluated = sorted((lab for lab in real if lab.trainId not in (255, -1)),
                       key=lambda lab: lab.trainId)
    train_ids = [lab.trainId for lab in evaluated]
    if train_ids != list(range(len(train_ids))):
        raise RuntimeError("cityscapesScripts label table has non-contiguous train ids: %r"
                           % train_ids)

    known = np.zeros(_LUT_SIZE, dtype=bool)
    to_train = np.full(_LUT_SIZE, IGNORE_LABEL, dtype=np.uint8)
    for lab in real:
        known[lab.id] = True
        if lab.trainId not in (255, -1):
            to_train[lab.id] = lab.trainId
    return evaluated, known, to_train


_EVALUATED, KNOWN_LABEL_IDS, LABEL_ID_TO_TRAIN_ID = _build_tables()
for _table in (KNOWN_LABEL_IDS, LABEL_ID_TO_TRAIN_ID):
    _table.setflags(write=False)

# The thing classes, defined once: evaluated classes with instances. Caravan and
# trailer have instances too but no train id (ignored in evaluation): void here.
_THINGS = tuple(lab for lab in _EVALUATED if lab.hasInstances and not lab.ignoreInEval)
#: Train ids of the 8 evaluated thing classes (person ... bicycle: 11..18).
THING_TRAIN_IDS = tuple(lab.trainId for lab in _THINGS)
#: Raw label ids of the same classes (24..28, 31..33), ascending.
THING_LABEL_IDS = tuple(sorted(lab.id for lab in _THINGS))
# Per label id, 1 for a thing class: uint8 for ``cv2.LUT``.
_EVALUATED_THING_U8 = np.zeros(_LUT_SIZE, dtype=np.uint8)
_EVALUATED_THING_U8[list(THING_LABEL_IDS)] = 1
_EVALUATED_THING_U8.setflags(write=False)

#: Instance value of a pixel without an instance id, per label id: -1 where
#: the pixel is masked (labels without a train id; crowd/group regions of the
#: evaluated thing classes), 0 for stuff. int8, for ``cv2.LUT``.
LABEL_ID_TO_PLAIN_INSTANCE = np.where(
    (LABEL_ID_TO_TRAIN_ID == IGNORE_LABEL) | (_EVALUATED_THING_U8 == 1),
    INSTANCE_IGNORE, 0).astype(np.int8)
LABEL_ID_TO_PLAIN_INSTANCE.setflags(write=False)

#: Names of the 19 evaluated classes, indexed by train id.
CLASS_NAMES = tuple(lab.name for lab in _EVALUATED)
NUM_CLASSES = len(CLASS_NAMES)
#: Raw label id of every train id (for writing predictions in the
#: format cityscapesScripts' evaluators read).
TRAIN_ID_TO_LABEL_ID = np.array([lab.id for lab in _EVALUATED], dtype=np.int32)
TRAIN_ID_TO_LABEL_ID.setflags(write=False)

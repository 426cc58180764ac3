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
    has_instances = np.zeros(_LUT_SIZE, dtype=bool)
    evaluated_thing = np.zeros(_LUT_SIZE, dtype=bool)
    for lab in real:
        known[lab.id] = True
        has_instances[lab.id] = lab.hasInstances
        if lab.trainId not in (255, -1):
            to_train[lab.id] = lab.trainId
            evaluated_thing[lab.id] = lab.hasInstances and not lab.ignoreInEval
    return evaluated, known, to_train, has_instances, evaluated_thing


(_EVALUATED, KNOWN_LABEL_IDS, LABEL_ID_TO_TRAIN_ID, LABEL_HAS_INSTANCES,
 LABEL_IS_EVALUATED_THING) = _build_tables()
for _table in (KNOWN_LABEL_IDS, LABEL_ID_TO_TRAIN_ID, LABEL_HAS_INSTANCES,
               LABEL_IS_EVALUATED_THING):
    _table.setflags(write=False)

#: Instance value of a pixel without an instance id, per label id: -1 where
#: the pixel is masked (labels without a train id; crowd/group regions of the
#: evaluated thing classes), 0 for stuff. uint8 views for ``cv2.LUT``.
LABEL_ID_TO_PLAIN_INSTANCE = np.where(
    (LABEL_ID_TO_TRAIN_ID == IGNORE_LABEL) | LABEL_IS_EVALUATED_THING,
    INSTANCE_IGNORE, 0).astype(np.int8)
LABEL_ID_TO_PLAIN_INSTANCE.setflags(write=False)
_EVALUATED_THING_U8 = LABEL_IS_EVALUATED_THING.astype(np.uint8)
_EVALUATED_THING_U8.setflags(write=False)

#: Names of the 19 evaluated classes, indexed by train id.
CLASS_NAMES = tuple(lab.name for lab in _EVALUATED)
NUM_CLASSES = len(CLASS_NAMES)
#: Train ids of the 8 evaluated thing classes (person ... bicycle: 11..18).
THING_TRAIN_IDS = tuple(lab.trainId for lab in _EVALUATED
                        if lab.hasInstances and not lab.ignoreInEval)
#: Raw label id of every train id (for writing predictions in the
#: format cityscapesScripts' evaluators read).
TRAIN_ID_TO_LABEL_ID = np.array([lab.id for lab in _EVALUATED], dtype=np.int32)
TRAIN_ID_TO_LABEL_ID.setflags(write=False)
#: RGB colour of every train id (the official palette), for visualisation.
TRAIN_ID_COLORS = np.array([lab.color for lab in _EVALUATED], dtype=np.uint8)
TRAIN_ID_COLORS.setflags(write=False)

"""Archives for the Cityscapes benchmark server (test split, paper Table 10).

The server scores the archive with the same evaluators as the val split
(``evalInstanceLevelSemanticLabeling`` / ``evalPixelLevelSemanticLabeling``):
it walks the archive for exactly one ``<city>_<seq>_<frame>*.txt`` (instance
level) or ``*.png`` (pixel level) per test image, and the instance lines point
to mask PNGs by paths relative to the .txt file. So:

* ``instance_<split>.zip``: ``<stem>.txt`` for every frame at the archive root
  and the masks they list under ``masks/`` -- the layout of ``DIR/instance/``;
* ``semantic_<split>.zip``: ``<stem>.png`` labelId maps at the root.

Only files of the listed frames go in (masks nothing refers to are left out);
entries are sorted and carry a fixed timestamp, so the same predictions give
the same archive bytes; each archive is written to a temporary file and
renamed into place.
"""
import os
import zipfile

from ..utils.io import atomic_write
from .cityscapes_instance import read_instance_txt
from .frame_outputs import INSTANCE_DIR, SEMANTIC_DIR

__all__ = ["write_submission", "write_zip"]

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def write_zip(path, members):
    """``members``: [(name in the archive, file on disk)]; written atomically."""
    with atomic_write(path, "wb") as f:
        with zipfile.ZipFile(f, "w") as archive:
            for name, source in sorted(members):
                info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
                # PNGs are compressed already; the .txt lists deflate well
                info.compress_type = zipfile.ZIP_STORED if name.endswith(".png") \
                    else zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                with open(source, "rb") as data:
                    archive.writestr(info, data.read())
    return path


def write_submission(out_dir, stems, frames_in_split, submission_dir):
    """Write the server archives of the frames ``stems`` under ``submission_dir``.

    The server wants a prediction for every image of the split: with fewer
    frames than ``frames_in_split`` no archive is written. Returns a summary
    (archive paths, file counts, or the reason none was written).
    """
    if len(stems) != frames_in_split:
        return {"archives": None,
                "reason": "only %d of the split's %d frames were predicted; the server needs "
                          "every frame (run without --max-frames)" % (len(stems), frames_in_split)}
    instance_dir = os.path.join(out_dir, INSTANCE_DIR)
    members, masks = [], 0
    for stem in stems:
        txt = os.path.join(instance_dir, stem + ".txt")
        members.append((stem + ".txt", txt))
        for rel, _, _, _ in read_instance_txt(txt):
            members.append((rel, os.path.join(instance_dir, rel)))
            masks += 1
    instance_zip = write_zip(os.path.join(submission_dir, "instance_test.zip"), members)
    semantic_zip = write_zip(os.path.join(submission_dir, "semantic_test.zip"),
                             [(stem + ".png", os.path.join(out_dir, SEMANTIC_DIR, stem + ".png"))
                              for stem in stems])
    return {"archives": {"instance": instance_zip, "semantic": semantic_zip},
            "frames": len(stems), "instance_masks": masks,
            "server": "https://www.cityscapes-dataset.com/submit/",
            "layout": "instance: <stem>.txt at the root + masks/<stem>_NNNN.png; "
                      "semantic: <stem>.png (labelIds) at the root"}

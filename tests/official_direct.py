"""cityscapesScripts called directly, in a process of its own, as its docs describe.

    python tests/official_direct.py WORKDIR GT_ROOT SPLIT INSTANCE_DIR SEMANTIC_DIR \
        PANOPTIC_JSON PANOPTIC_FOLDER

The reference the tests compare ssap_gluon.evaluation (and scripts/test.py)
with: nothing of ssap_gluon is imported here. Runs in WORKDIR (the official
scripts write gtInstances.json / matches.json / result files there), uses the
official module-level ``args`` with only the paths set, the official
``getPrediction`` to find files, ``evaluateImgLists`` for AP and IoU,
``createPanopticImgs.convert2panoptic`` for the panoptic ground truth, and for
PQ both the one-core path (``pq_compute_single_core`` + ``average_pq``) and
the official driver ``evaluatePanoptic`` (multi-core). Prints one JSON object.
"""
import glob
import json
import os
import sys


def main(workdir, gt_root, split, instance_dir, semantic_dir, pan_json, pan_folder):
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    stdout = sys.stdout
    sys.stdout = sys.stderr  # the official scripts print progress
    from cityscapesscripts.evaluation import evalInstanceLevelSemanticLabeling as inst
    from cityscapesscripts.evaluation import evalPanopticSemanticLabeling as pan
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as pix
    from cityscapesscripts.preparation import createPanopticImgs

    out = {}
    if instance_dir != "-":
        gts = sorted(glob.glob(os.path.join(gt_root, "gtFine", split, "*",
                                            "*_gtFine_instanceIds.png")))
        inst.args.predictionPath = os.path.abspath(instance_dir)
        inst.args.gtInstancesFile = os.path.join(workdir, "gtInstances.json")
        inst.args.exportFile = os.path.join(workdir, "instance_result.json")
        inst.args.quiet = True
        preds = [inst.getPrediction(gt, inst.args) for gt in gts]
        result = inst.evaluateImgLists(preds, gts, inst.args)
        out["instance"] = {"AP": result["averages"]["allAp"],
                           "AP50": result["averages"]["allAp50%"],
                           "per_class": {k: {"AP": v["ap"], "AP50": v["ap50%"]}
                                         for k, v in result["averages"]["classes"].items()}}
    if semantic_dir != "-":
        gts = sorted(glob.glob(os.path.join(gt_root, "gtFine", split, "*",
                                            "*_gtFine_labelIds.png")))
        pix.args.predictionPath = os.path.abspath(semantic_dir)
        pix.args.exportFile = os.path.join(workdir, "semantic_result.json")
        pix.args.quiet = True
        preds = [pix.getPrediction(pix.args, gt) for gt in gts]
        result = pix.evaluateImgLists(preds, gts, pix.args)
        out["semantic"] = {"mIoU": result["averageScoreClasses"],
                           "per_class": result["classScores"]}
    if pan_json != "-":
        createPanopticImgs.convert2panoptic(cityscapesPath=os.path.join(gt_root, "gtFine"),
                                            outputFolder=workdir, setNames=[split])
        gt_json = os.path.join(workdir, "cityscapes_panoptic_%s.json" % split)
        gt_folder = os.path.splitext(gt_json)[0]
        with open(gt_json) as f:
            gt = json.load(f)
        with open(pan_json) as f:
            pred = json.load(f)
        categories = {c["id"]: c for c in gt["categories"]}
        by_image = {a["image_id"]: a for a in pred["annotations"]}
        matched = [(a, by_image[a["image_id"]]) for a in gt["annotations"]]
        stat = pan.pq_compute_single_core(0, matched, gt_folder, pan_folder, categories)
        single = pan.average_pq(stat, categories)
        multi = pan.evaluatePanoptic(gt_json, gt_folder, pan_json, pan_folder,
                                     os.path.join(workdir, "panoptic_result.json"))
        names = {c: categories[c]["name"] for c in categories}
        for key, res in (("panoptic", single), ("panoptic_multicore", multi)):
            out[key] = {g: {m: res[g][m] for m in ("pq", "sq", "rq", "n")}
                        for g in ("All", "Things", "Stuff")}
            out[key]["per_class"] = {names[c]: v for c, v in res["per_class"].items()}
    sys.stdout = stdout
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:])

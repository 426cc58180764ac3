#!/usr/bin/env python
"""Report whether this machine can train ssap-gluon on its GPUs.

    python scripts/check_gpu_env.py [--json OUT]

Prints the installed mxnet build and its features, every CUDA library
mxnet-cu112 needs and where it resolves (or "missing"), the GPU architectures
compiled into libmxnet.so, the GPUs nvidia-smi sees and a verdict per GPU.
Exit status: 0 when nothing is wrong (a CPU-only machine with the CPU build
included), 1 when a GPU cannot be used or a library is missing.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def mxnet_features():
    """Enabled build features of the importable mxnet, or the import error."""
    try:
        import ssap_gluon  # noqa: F401  (preloads the CUDA libraries first)
        import mxnet as mx

        feats = mx.runtime.Features()
        wanted = ("CUDA", "CUDNN", "NCCL", "CUDA_RTC", "TENSORRT", "MKLDNN", "OPENMP",
                  "DIST_KVSTORE", "INT64_TENSOR_SIZE", "SIGNAL_HANDLER")
        return {k: feats.is_enabled(k) for k in wanted if k in feats}, None
    except Exception as e:  # noqa: BLE001 - reported, not raised
        return {}, "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")


def format_report(report):
    features, feature_error = report["mxnet_features"], report["mxnet_import_error"]
    lines = []
    dist = report["mxnet_distribution"]
    if dist is None:
        lines.append("mxnet: %s" % (report["mxnet_distributions"] or "not installed"))
    else:
        lines.append("mxnet: %s %s" % (dist, report["mxnet_version"]))
    if feature_error:
        lines.append("  import mxnet FAILED: %s" % feature_error)
    elif features:
        lines.append("  build features: " + ", ".join(
            "%s=%s" % (k, "on" if v else "off") for k, v in features.items()))
    lines.append("")
    if dist == "mxnet-cu112":
        lines.append("CUDA libraries (nvidia-*-cu11 wheels under site-packages/nvidia, "
                     "preloaded by 'import ssap_gluon'):")
        for row in report["libraries"]:
            lines.append("  %-26s %-28s %s" % (row["library"], row["status"],
                                               row["path"] or row["provided_by"]))
    else:
        lines.append("CUDA libraries: not needed (%s is not the GPU build; "
                     "GPU install: SSAP_MXNET=cu112 pip install -e .)" % (dist or "mxnet"))
    lines.append("")
    archs = report["mxnet_archs"]
    lines.append("GPU code in libmxnet.so: cubins %s; PTX %s  [%s]" % (
        ", ".join("sm_%d" % a for a in archs["cubin"]) or "none",
        ", ".join("compute_%d" % a for a in archs["ptx"]) or "none", archs["source"]))
    lines.append("")
    if report["gpus"]:
        lines.append("GPUs:")
        for gpu in report["gpus"]:
            lines.append("  [%s] %s (driver %s)" % (gpu["index"], gpu["name"], gpu["driver"]))
            lines.append("      %s" % gpu["verdict"])
    else:
        lines.append("GPUs: none (%s)" % (report["gpu_query"] or "nvidia-smi lists none"))
        lines.append("  training runs on the CPU: TRAIN.DEVICES cpu or cpu:N")
    lines.append("")
    if report["missing_libraries"]:
        lines.append("MISSING: %s -- pip install the listed wheels (see docs/TRAINING.md "
                     "'GPU environment')" % ", ".join(report["missing_libraries"]))
    lines.append("verdict: %s" % ("OK" if report["ok"] else "PROBLEMS FOUND (see above)"))
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", default=None, help="also write the report as JSON here")
    args = p.parse_args(argv)
    from ssap_gluon.utils.gpu_support import environment_report

    features, feature_error = mxnet_features()
    report = environment_report()
    report["mxnet_features"] = features
    report["mxnet_import_error"] = feature_error
    if feature_error:
        report["ok"] = False
    print(format_report(report))
    if args.json:
        from ssap_gluon.utils.io import write_json_atomic

        write_json_atomic(args.json, report)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

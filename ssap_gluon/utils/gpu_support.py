"""Can the installed mxnet run on the GPUs here? What ``scripts/check_gpu_env.py`` reports.

* GPU code compiled into ``libmxnet.so``: read from its ELF ``.nv_fatbin``
  section without importing mxnet (a CPU build has no such section);
* the GPUs ``nvidia-smi`` lists, with their compute capability;
* a verdict per GPU, and :func:`environment_report`, which adds where each CUDA
  library resolves (:func:`ssap_gluon.utils.gpu_env.library_report`).

Diagnostics only: nothing here runs at ``import ssap_gluon``.
"""
import importlib.util
import os
import struct
import subprocess

from .gpu_env import library_report

#: GPU code in mxnet-cu112 1.9.1's libmxnet.so (read from its .nv_fatbin: 198
#: cubins per architecture, no PTX). Used when the binary cannot be read.
MXNET_CU112_CUBIN_ARCHS = (50, 60, 70, 80, 86)

FATBIN_MAGIC = 0xBA55ED50


# ---------------------------------------------------------------------------
# GPU code in libmxnet.so
# ---------------------------------------------------------------------------
def elf_section(f, name):
    """``(offset, size)`` of section ``name`` in an ELF64 little-endian file, or None."""
    f.seek(0)
    ident = f.read(64)
    if len(ident) < 64 or ident[:4] != b"\x7fELF" or ident[4] != 2 or ident[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    shoff = struct.unpack_from("<Q", ident, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", ident, 0x3A)
    f.seek(shoff)
    table = f.read(shentsize * shnum)
    sections = [struct.unpack_from("<IIQQQQ", table, i * shentsize) for i in range(shnum)]
    str_off, str_size = sections[shstrndx][4], sections[shstrndx][5]
    f.seek(str_off)
    names = f.read(str_size)
    for sec in sections:
        end = names.find(b"\0", sec[0])
        if names[sec[0]:end].decode("ascii", "replace") == name:
            return sec[4], sec[5]
    return None


def fatbin_archs(f, offset, size):
    """``{"cubin": sorted archs, "ptx": sorted archs}`` of the fatbinaries in
    ``f[offset:offset+size]``.

    A fatbinary is a 16-byte header (magic 0xBA55ED50, version u16, header
    size u16, payload size u64) followed by entries whose header starts with
    kind u16 (1 = PTX, 2 = ELF cubin), u16, header size u32, payload size u64,
    and holds the SM version (e.g. 86) as u32 at byte 28. The section is a
    sequence of fatbinaries, 8-byte aligned.
    """
    cubin, ptx = set(), set()
    pos, end = offset, offset + size
    while pos + 16 <= end:
        f.seek(pos)
        magic, _, header_size, fat_size = struct.unpack("<IHHQ", f.read(16))
        if magic != FATBIN_MAGIC:
            pos += 8
            continue
        entry, entries_end = pos + header_size, pos + header_size + fat_size
        while entry + 32 <= entries_end:
            f.seek(entry)
            head = f.read(32)
            kind, _, entry_header, payload = struct.unpack_from("<HHIQ", head, 0)
            arch = struct.unpack_from("<I", head, 28)[0]
            if kind == 1:
                ptx.add(arch)
            elif kind == 2:
                cubin.add(arch)
            if entry_header == 0:
                break
            entry += entry_header + payload
        pos = entries_end
    return {"cubin": sorted(cubin), "ptx": sorted(ptx)}


def mxnet_library_path():
    """Path of the installed mxnet's libmxnet.so (without importing mxnet)."""
    spec = importlib.util.find_spec("mxnet")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "libmxnet.so")
    return path if os.path.isfile(path) else None


def mxnet_gpu_archs(path=None):
    """GPU code compiled into libmxnet.so: ``{"cubin": [...], "ptx": [...],
    "source": ...}``; empty lists for a CPU build."""
    path = path or mxnet_library_path()
    if path is None:
        return {"cubin": [], "ptx": [], "source": "libmxnet.so not found"}
    with open(path, "rb") as f:
        section = elf_section(f, ".nv_fatbin")
        if section is None:
            return {"cubin": [], "ptx": [], "source": "%s (no .nv_fatbin: CPU build)" % path}
        archs = fatbin_archs(f, *section)
    archs["source"] = "%s (.nv_fatbin)" % path
    return archs


# ---------------------------------------------------------------------------
# GPUs present and the verdict
# ---------------------------------------------------------------------------
def parse_compute_capability(text):
    """``"8.6"`` -> 86; ``"[N/A]"`` or garbage -> None."""
    text = str(text).strip()
    try:
        major, minor = text.split(".")
        return int(major) * 10 + int(minor)
    except ValueError:
        return None


def parse_nvidia_smi(output):
    """Rows of ``nvidia-smi --query-gpu=index,name,compute_cap,driver_version
    --format=csv,noheader`` -> ``[{"index", "name", "sm", "driver"}]``."""
    gpus = []
    for line in output.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4:
            continue
        gpus.append({"index": int(parts[0]) if parts[0].isdigit() else parts[0],
                     "name": parts[1], "sm": parse_compute_capability(parts[2]),
                     "driver": parts[3]})
    return gpus


def query_gpus(run=subprocess.run):
    """GPUs from nvidia-smi: ``(gpus, message)``; ``([], reason)`` without one."""
    cmd = ["nvidia-smi", "--query-gpu=index,name,compute_cap,driver_version",
           "--format=csv,noheader"]
    try:
        proc = run(cmd, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return [], "nvidia-smi not found: no NVIDIA driver on this machine"
    except (subprocess.TimeoutExpired, OSError) as e:
        return [], "nvidia-smi failed: %s" % e
    if proc.returncode != 0:
        return [], "nvidia-smi failed (exit %d): %s" % (proc.returncode,
                                                         (proc.stderr or proc.stdout).strip())
    return parse_nvidia_smi(proc.stdout), ""


def gpu_verdict(sm, cubin, ptx, mxnet_label="the installed mxnet"):
    """``(ok, message)``: can ``sm`` (e.g. 90) run code with these archs?

    A cubin for X.y runs on X.z with z >= y (same major); PTX for <= sm can be
    JIT-compiled by the driver.
    """
    if sm is None:
        return None, "compute capability unknown (nvidia-smi too old to report it)"
    name = "sm_%d" % sm
    if not cubin and not ptx:
        return False, "%s is a CPU build: install mxnet-cu112 (SSAP_MXNET=cu112)" % mxnet_label
    same_major = [a for a in cubin if a // 10 == sm // 10 and a <= sm]
    if same_major:
        return True, "%s: supported (runs the sm_%d cubins of %s)" % (name, max(same_major),
                                                                       mxnet_label)
    jit = [a for a in ptx if a <= sm]
    if jit:
        return True, "%s: supported via PTX JIT from compute_%d (slow first start)" % (
            name, max(jit))
    return False, ("%s: NOT supported by %s -- it holds GPU code for %s only and no PTX to "
                   "JIT-compile, so every kernel fails with 'no kernel image is available "
                   "for execution on the device'. Use a GPU of compute capability %s, or "
                   "an mxnet build compiled for %s."
                   % (name, mxnet_label, ", ".join("sm_%d" % a for a in cubin),
                      " / ".join(_ranges(cubin)), name))


def _ranges(cubin):
    out = []
    for a in cubin:
        out.append("%d.%d" % (a // 10, a % 10) + ("-%d.9" % (a // 10) if a % 10 == 0 else "+"))
    return out


def environment_report(run=subprocess.run, library_roots=None, mxnet_path=None):
    """Everything check_gpu_env.py prints, as a dict (see that script)."""
    from .._mxnet_guard import installed_mxnet_distributions

    dists = installed_mxnet_distributions()
    dist_name, dist_version = next(iter(dists.items())) if len(dists) == 1 else (None, None)
    report = {"mxnet_distributions": dists, "mxnet_distribution": dist_name,
              "mxnet_version": dist_version}
    report["libraries"] = library_report(library_roots) if dist_name == "mxnet-cu112" else []
    try:
        archs = mxnet_gpu_archs(mxnet_path)
    except (OSError, ValueError, struct.error) as e:
        archs = {"cubin": list(MXNET_CU112_CUBIN_ARCHS) if dist_name == "mxnet-cu112" else [],
                 "ptx": [], "source": "could not read libmxnet.so (%s); documented table" % e}
    report["mxnet_archs"] = archs
    gpus, message = query_gpus(run)
    report["gpus"] = gpus
    report["gpu_query"] = message
    label = "%s %s" % (dist_name or "mxnet", dist_version or "")
    for gpu in gpus:
        gpu["ok"], gpu["verdict"] = gpu_verdict(gpu["sm"], archs["cubin"], archs["ptx"],
                                                label.strip())
    missing = [r["library"] for r in report["libraries"]
               if r["status"] == "missing" and "*" not in r["library"]]
    report["missing_libraries"] = missing
    report["ok"] = not missing and all(g["ok"] is not False for g in gpus)
    return report

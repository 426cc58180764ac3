"""mxnet-cu112's CUDA libraries: preloaded at ``import ssap_gluon``; where each resolves.

``mxnet-cu112==1.9.1``'s ``libmxnet.so`` links the CUDA 11 runtime, cuBLAS,
cuFFT, cuRAND, cuSOLVER, NVRTC, NVTX, cuDNN 8 and NCCL 2 dynamically (its
``DT_NEEDED`` entries, read with ``readelf -d``: :data:`MXNET_CU112_NEEDED`),
but ships none of them. The ``nvidia-*-cu11`` wheels install them under
``site-packages/nvidia/<component>/lib`` -- a directory the dynamic loader
never searches. :func:`preload_cuda_libraries` (called by ``import
ssap_gluon`` when the installed mxnet is ``mxnet-cu112``, before anything
imports mxnet) loads them by absolute path with ``RTLD_GLOBAL``; the loader
then satisfies libmxnet.so's ``NEEDED`` entries (matched by soname) from the
already-loaded copies, so no ``LD_LIBRARY_PATH`` is needed. Libraries the
wheels do not provide are left to the system (a CUDA toolkit on the loader
path still works). ``libcuda.so.1`` is the driver's and never comes from a wheel.

Whether the GPUs here can run the installed mxnet at all (the architectures
compiled into libmxnet.so, nvidia-smi, a verdict per GPU) is
:mod:`ssap_gluon.utils.gpu_support`, used only by ``scripts/check_gpu_env.py``,
so ``import ssap_gluon`` does not load it.
"""
import ctypes
import glob
import importlib.util
import os
import sys
import warnings

#: DT_NEEDED entries of mxnet-cu112 1.9.1's libmxnet.so that are CUDA libraries
#: (readelf -d on the wheel's libmxnet.so), with the wheel that provides each.
MXNET_CU112_NEEDED = (
    ("libcudart.so.11.0", "cuda_runtime", "nvidia-cuda-runtime-cu11"),
    ("libnvrtc.so.11.2", "cuda_nvrtc", "nvidia-cuda-nvrtc-cu11"),
    ("libcublas.so.11", "cublas", "nvidia-cublas-cu11"),
    ("libcufft.so.10", "cufft", "nvidia-cufft-cu11"),
    ("libcurand.so.10", "curand", "nvidia-curand-cu11"),
    ("libcusolver.so.11", "cusolver", "nvidia-cusolver-cu11"),
    ("libcudnn.so.8", "cudnn", "nvidia-cudnn-cu11"),
    ("libnccl.so.2", "nccl", "nvidia-nccl-cu11"),
    ("libnvToolsExt.so.1", "nvtx", "nvidia-nvtx-cu11"),
)
#: Libraries the NEEDED ones load in turn (their own dependencies, or dlopen'ed
#: at run time: cuDNN 8's sub-libraries, NVRTC's builtins), preloaded too.
CU11_INDIRECT = (
    ("libcublasLt.so.11", "cublas", "nvidia-cublas-cu11"),
    ("libcusparse.so.11", "cusparse", "nvidia-cusparse-cu11"),
    ("libnvrtc-builtins.so.11.*", "cuda_nvrtc", "nvidia-cuda-nvrtc-cu11"),
    ("libcudnn_*.so.8", "cudnn", "nvidia-cudnn-cu11"),
)
DRIVER_LIBRARY = "libcuda.so.1"
_loaded = {}


# ---------------------------------------------------------------------------
# Finding and preloading the wheel libraries
# ---------------------------------------------------------------------------
def nvidia_wheel_roots():
    """Directories of the ``nvidia`` namespace package (site-packages/nvidia)."""
    try:
        spec = importlib.util.find_spec("nvidia")
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    return [os.fspath(p) for p in spec.submodule_search_locations]


def find_wheel_library(pattern, component, roots=None):
    """Paths of ``nvidia/<component>/lib/<pattern>`` (a soname or glob) in the wheels."""
    found = []
    for root in nvidia_wheel_roots() if roots is None else roots:
        found.extend(sorted(glob.glob(os.path.join(root, component, "lib", pattern))))
    return found


def resolve_libraries(roots=None):
    """``[(soname, path or None, distribution)]`` for every needed and indirect library."""
    rows = []
    for pattern, component, dist in MXNET_CU112_NEEDED + CU11_INDIRECT:
        paths = find_wheel_library(pattern, component, roots)
        if not paths:
            rows.append((pattern, None, dist))
        for path in paths:
            rows.append((os.path.basename(path), path, dist))
    return rows


def preload_cuda_libraries(roots=None, loader=None):
    """Load the wheel libraries with RTLD_GLOBAL; returns ``{soname: path}`` loaded.

    Order-independent: libraries whose own dependencies are not loaded yet
    fail and are retried after the others (cuBLAS needs cuBLASLt, cuSOLVER
    needs cuBLAS and cuSPARSE, cuDNN's sub-libraries need each other).
    ``loader(path)`` defaults to ``ctypes.CDLL(path, RTLD_GLOBAL)``.
    """
    if loader is None:
        def loader(path):
            return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    todo = [(name, path) for name, path, _ in resolve_libraries(roots) if path]
    loaded = {}
    errors = {}
    while todo:
        failed = []
        for name, path in todo:
            try:
                loader(path)
                loaded[name] = path
            except OSError as e:
                failed.append((name, path))
                errors[name] = str(e)
        if len(failed) == len(todo):
            break
        todo = failed
    for name, _ in todo:
        warnings.warn("ssap_gluon: could not preload %s: %s" % (name, errors[name]))
    _loaded.update(loaded)
    return loaded


def preload_for_installed_mxnet(distribution):
    """What ``import ssap_gluon`` calls: preload only for mxnet-cu112, only if
    mxnet is not imported yet, and not when SSAP_NO_CUDA_PRELOAD=1."""
    if distribution != "mxnet-cu112" or "mxnet" in sys.modules:
        return {}
    if os.environ.get("SSAP_NO_CUDA_PRELOAD", "") not in ("", "0"):
        return {}
    loaded = preload_cuda_libraries()
    missing = [name for name, path, _ in resolve_libraries()
               if path is None and not _system_can_load(name)]
    if missing:
        warnings.warn("ssap_gluon: mxnet-cu112 needs CUDA libraries that neither the "
                      "nvidia-*-cu11 wheels nor the system provide: %s. Run "
                      "scripts/check_gpu_env.py for details." % ", ".join(missing))
    return loaded


def _system_can_load(soname):
    if "*" in soname:
        return True  # indirect, optional pattern: the owning library reports it
    try:
        ctypes.CDLL(soname)
        return True
    except OSError:
        return False


def library_report(roots=None):
    """``[{"library", "status", "path", "provided_by"}]`` for the check script."""
    rows = []
    for name, path, dist in resolve_libraries(roots):
        if path:
            status = "preloaded" if name in _loaded else "found (wheel)"
        elif "*" in name:
            status = "missing"
        elif _system_can_load(name):
            status = "found (system loader path)"
        else:
            status = "missing"
        rows.append({"library": name, "status": status, "path": path, "provided_by": dist})
    driver = _system_can_load(DRIVER_LIBRARY)
    rows.append({"library": DRIVER_LIBRARY, "status": "found (driver)" if driver else "missing",
                 "path": None, "provided_by": "the NVIDIA driver (not a pip wheel)"})
    return rows

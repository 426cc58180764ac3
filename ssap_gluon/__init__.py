"""ssap-gluon: SSAP (Gao et al., ICCV 2019) in MXNet/Gluon.

Pipeline, one sub-package per stage:
data -> targets -> model -> losses -> training;
network outputs -> graph -> partition (multicut) -> instances -> evaluation.
"""
from ._mxnet_guard import check_single_mxnet

__version__ = "0.1.0"

# Fail loudly before anything imports a broken mix of mxnet builds.
MXNET_DISTRIBUTION = check_single_mxnet()

# mxnet-cu112 links CUDA 11 / cuDNN 8 / NCCL libraries that the nvidia-*-cu11
# wheels install outside the loader's search path: preload them (no
# LD_LIBRARY_PATH needed). A no-op for the CPU build or once mxnet is imported.
from .utils.gpu_env import preload_for_installed_mxnet as _preload  # noqa: E402

_preload(MXNET_DISTRIBUTION[0])
del _preload

"""ssap-gluon: SSAP (Gao et al., ICCV 2019) in MXNet/Gluon.

Pipeline, one sub-package per stage:
data -> targets -> model -> losses -> training;
network outputs -> graph -> partition (multicut) -> instances -> evaluation.
"""
from ._mxnet_guard import check_single_mxnet

__version__ = "0.1.0"

# Fail loudly before anything imports a broken mix of mxnet builds.
MXNET_DISTRIBUTION = check_single_mxnet()

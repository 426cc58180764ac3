"""Build and install ssap-gluon.

Every ``csrc/<name>.pyx`` is compiled to the extension ``ssap_gluon._ext.<name>``
(C or C++ as the file's ``# distutils: language`` line says).

Which mxnet build is installed is chosen by the environment variable
``SSAP_MXNET`` at install time:

* ``cpu`` (default): ``mxnet==1.9.1``
* ``cu112``: ``mxnet-cu112==1.9.1`` plus the CUDA 11 / cuDNN 8 / NCCL runtime
  wheels (``nvidia-*-cu11``), see README "GPU install".

Only one of the two can be requested per install; both distributions write
the same ``mxnet`` package directory, so ``ssap_gluon`` refuses to import when
it finds both installed (``ssap_gluon/_mxnet_guard.py``).
"""
import glob
import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))

COMMON = [
    "numpy==1.23.5",  # mxnet 1.9.1 fails to import with numpy >= 1.24
    "gluoncv==0.10.5.post0",
    "opencv-python>=4.5,<4.12",  # 4.12 requires numpy >= 2
    "scipy>=1.9,<1.16",
    "cityscapesscripts>=2.2",
    "pycocotools>=2.0.6",
    "cython>=3.0",
    "yacs>=0.1.8",
    "tqdm>=4.60",
    "matplotlib>=3.6,<3.11",
    "Pillow>=9.0",
]

# The CUDA 11 runtime libraries mxnet-cu112 1.9.1 links dynamically. The
# wheels put them under site-packages/nvidia/*/lib; ssap_gluon.utils.gpu_env
# preloads them so no LD_LIBRARY_PATH is needed.
CU11_RUNTIME = [
    "nvidia-cuda-runtime-cu11==11.8.89",
    "nvidia-cuda-nvrtc-cu11==11.8.89",
    "nvidia-cublas-cu11==11.11.3.6",
    "nvidia-cufft-cu11==10.9.0.58",
    "nvidia-curand-cu11==10.3.0.86",
    "nvidia-cusolver-cu11==11.4.1.48",
    "nvidia-cusparse-cu11==11.7.5.86",
    "nvidia-cudnn-cu11==8.9.6.50",
    "nvidia-nccl-cu11==2.19.3",
    "nvidia-nvtx-cu11==11.8.86",  # libnvToolsExt.so.1 (readelf -d libmxnet.so)
]

MXNET_VARIANTS = {
    "cpu": ["mxnet==1.9.1"],
    "cu112": ["mxnet-cu112==1.9.1"] + CU11_RUNTIME,
}


def mxnet_requirements():
    variant = os.environ.get("SSAP_MXNET", "cpu").strip().lower()
    if variant not in MXNET_VARIANTS:
        raise SystemExit(
            "SSAP_MXNET=%r is not a known mxnet build; expected one of %s"
            % (variant, ", ".join(sorted(MXNET_VARIANTS))))
    return MXNET_VARIANTS[variant]


def extensions():
    exts = []
    for pyx in sorted(glob.glob(os.path.join("csrc", "*.pyx"))):
        name = os.path.splitext(os.path.basename(pyx))[0]
        exts.append(Extension(
            "ssap_gluon._ext." + name,
            sources=[pyx],
            include_dirs=[numpy.get_include(), "csrc"],
            extra_compile_args=["-O3"],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        ))
    return cythonize(exts, language_level=3, compiler_directives={
        "boundscheck": False, "wraparound": False, "cdivision": True})


def read(path):
    with open(os.path.join(HERE, path), encoding="utf-8") as f:
        return f.read()


setup(
    name="ssap-gluon",
    version="0.1.0",
    description="SSAP (ICCV 2019) instance segmentation with an affinity pyramid "
                "and cascaded multicut, in MXNet/Gluon",
    long_description=read("README.md"),
    long_description_content_type="text/markdown",
    python_requires=">=3.9,<3.12",
    packages=find_packages(include=["ssap_gluon", "ssap_gluon.*"]),
    include_package_data=True,
    package_data={"ssap_gluon": ["reproduction/*.yaml"]},
    ext_modules=extensions(),
    install_requires=COMMON + mxnet_requirements(),
    extras_require={
        "test": ["pytest>=7", "pytest-timeout>=2.1", "hypothesis>=6.80"],
        # reference solvers for the multicut benchmark and cross-checks
        "bench": ["bioimage-cpp>=0.10"],
    },
    zip_safe=False,
)

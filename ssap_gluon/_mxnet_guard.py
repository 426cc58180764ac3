"""Refuse to run with two mxnet builds installed at once.

``mxnet`` (CPU) and ``mxnet-cu112`` (GPU) both install into the same
``site-packages/mxnet`` directory; with both present, whichever was installed
last silently overwrote files of the other and imports fail in confusing ways
(or run on the CPU when the user paid for GPUs). We check the installed
distributions before anything imports mxnet.
"""
from importlib import metadata

# Distributions that provide the ``mxnet`` import package.
MXNET_DISTRIBUTIONS = ("mxnet", "mxnet-cu112", "mxnet-mkl", "mxnet-cu110",
                       "mxnet-cu101", "mxnet-cu102", "mxnet-native")


class MXNetInstallError(ImportError):
    """The installed mxnet distributions cannot work together."""


def installed_mxnet_distributions(distributions=None):
    """Return ``{name: version}`` of every installed mxnet distribution."""
    found = {}
    dists = metadata.distributions() if distributions is None else distributions
    for dist in dists:
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name in MXNET_DISTRIBUTIONS:
            found[name] = dist.version
    return found


def check_single_mxnet(distributions=None):
    """Raise :class:`MXNetInstallError` unless exactly one mxnet build is installed."""
    found = installed_mxnet_distributions(distributions)
    if len(found) > 1:
        listing = ", ".join("%s==%s" % kv for kv in sorted(found.items()))
        raise MXNetInstallError(
            "ssap_gluon: several mxnet builds are installed at once (%s). They "
            "overwrite each other's files in site-packages/mxnet. Keep exactly one: "
            "'pip uninstall -y %s' and then reinstall the one you want "
            "(CPU: SSAP_MXNET=cpu pip install -e . ; GPU: SSAP_MXNET=cu112 pip install -e .)."
            % (listing, " ".join(sorted(found))))
    if not found:
        raise MXNetInstallError(
            "ssap_gluon: no mxnet build is installed. Install the project with "
            "'SSAP_MXNET=cpu pip install -e .' (or SSAP_MXNET=cu112 for NVIDIA GPUs).")
    return next(iter(found.items()))

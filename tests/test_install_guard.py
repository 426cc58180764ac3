"""Two mxnet builds installed at once must be refused loudly."""
import pytest

from ssap_gluon._mxnet_guard import MXNetInstallError, check_single_mxnet


class FakeDist:
    def __init__(self, name, version):
        self.metadata = {"Name": name}
        self.version = version


def test_single_cpu_build_is_accepted():
    assert check_single_mxnet([FakeDist("mxnet", "1.9.1"), FakeDist("numpy", "1.23.5")]) == (
        "mxnet", "1.9.1")


def test_cpu_and_gpu_builds_together_are_refused():
    with pytest.raises(MXNetInstallError) as err:
        check_single_mxnet([FakeDist("mxnet", "1.9.1"), FakeDist("mxnet_cu112", "1.9.1")])
    msg = str(err.value)
    assert "mxnet==1.9.1" in msg and "mxnet-cu112==1.9.1" in msg and "pip uninstall" in msg


def test_no_build_is_a_clear_error():
    with pytest.raises(MXNetInstallError, match="no mxnet build is installed"):
        check_single_mxnet([FakeDist("numpy", "1.23.5")])


def test_this_environment_has_exactly_one_build():
    import ssap_gluon
    assert ssap_gluon.MXNET_DISTRIBUTION[0] in ("mxnet", "mxnet-cu112")

"""GPU environment logic with fake inputs (this machine has no GPU): library
resolution and order-independent preloading, the fatbin architecture reader on a
synthetic ELF, verdicts per GPU, nvidia-smi parsing, the check script on the CPU."""
import json
import os
import struct
import subprocess
import sys
import warnings

import pytest

from ssap_gluon.utils import gpu_env, gpu_support

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CU112_ARCHS = [50, 60, 70, 80, 86]


# ---------------------------------------------------------------------------
# verdicts
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("sm,ok,runs", [
    (86, True, "sm_86"),   # RTX 3090 / A40
    (89, True, "sm_86"),   # RTX 4090 / L4 (Ada): binary-compatible with sm_86
    (80, True, "sm_80"),   # A100
    (75, True, "sm_70"),   # T4
    (61, True, "sm_60"),   # GTX 1080 Ti (the paper's GPUs)
    (52, True, "sm_50"),   # Maxwell
    (90, False, None),     # H100
    (100, False, None),    # B200
    (37, False, None),     # K80
])
def test_gpu_verdict_for_mxnet_cu112(sm, ok, runs):
    got, message = gpu_support.gpu_verdict(sm, CU112_ARCHS, [], "mxnet-cu112 1.9.1")
    assert got is ok
    if ok:
        assert "supported (runs the %s cubins" % runs in message
    else:
        assert "sm_%d: NOT supported by mxnet-cu112 1.9.1" % sm in message
        assert "no kernel image is available" in message


def test_gpu_verdict_with_ptx_and_unknowns():
    ok, message = gpu_support.gpu_verdict(90, [80], [80])
    assert ok and "PTX JIT from compute_80" in message
    assert gpu_support.gpu_verdict(None, CU112_ARCHS, [])[0] is None
    ok, message = gpu_support.gpu_verdict(86, [], [])
    assert ok is False and "CPU build" in message


def test_parse_nvidia_smi():
    out = "0, NVIDIA H100 80GB HBM3, 9.0, 535.104.05\n1, NVIDIA A100-SXM4-40GB, 8.0, 535.104.05\n" \
          "2, Tesla K80, [N/A], 470.1\n"
    gpus = gpu_support.parse_nvidia_smi(out)
    assert [(g["index"], g["sm"]) for g in gpus] == [(0, 90), (1, 80), (2, None)]
    assert gpus[0]["name"] == "NVIDIA H100 80GB HBM3" and gpus[1]["driver"] == "535.104.05"


def fake_run(stdout="", returncode=0, exc=None):
    def run(cmd, **kwargs):
        assert cmd[0] == "nvidia-smi"
        if exc:
            raise exc
        return subprocess.CompletedProcess(cmd, returncode, stdout=stdout, stderr="boom")
    return run


def test_query_gpus_without_a_driver():
    assert gpu_support.query_gpus(fake_run(exc=FileNotFoundError()))[0] == []
    gpus, message = gpu_support.query_gpus(fake_run(returncode=9))
    assert gpus == [] and "exit 9" in message


def test_environment_report_flags_an_h100(tmp_path):
    lib = tmp_path / "libmxnet.so"
    lib.write_bytes(synthetic_elf(fatbin([(2, 50), (2, 86)])))
    report = gpu_support.environment_report(
        run=fake_run("0, NVIDIA H100 PCIe, 9.0, 550.54\n1, NVIDIA RTX A6000, 8.6, 550.54\n"),
        mxnet_path=str(lib))
    assert report["mxnet_archs"]["cubin"] == [50, 86]
    assert [g["ok"] for g in report["gpus"]] == [False, True]
    assert "NOT supported" in report["gpus"][0]["verdict"]
    assert report["ok"] is False


# ---------------------------------------------------------------------------
# fatbin / ELF reader
# ---------------------------------------------------------------------------
def fatbin(entries):
    """One fatbinary with (kind, sm) entries (kind 1 PTX, 2 cubin), 16-byte payloads."""
    body = b""
    for kind, sm in entries:
        head = struct.pack("<HHIQII HH I", kind, 0x101, 64, 16, 0, 0, 0, 0, sm)
        head = head.ljust(64, b"\0")
        body += head + b"\xAB" * 16
    return struct.pack("<IHHQ", gpu_support.FATBIN_MAGIC, 1, 16, len(body)) + body


def synthetic_elf(fatbin_bytes):
    """A minimal ELF64 with sections: null, .nv_fatbin, .shstrtab."""
    names = b"\0.nv_fatbin\0.shstrtab\0"
    data_off = 64
    data = fatbin_bytes + b"\0" * 8 + fatbin_bytes  # two fatbins with padding between
    str_off = data_off + len(data)
    sh_off = str_off + len(names)
    sh_off += (-sh_off) % 8
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", header, 0x28, sh_off)
    struct.pack_into("<HHH", header, 0x3A, 64, 3, 2)
    sections = b"\0" * 64
    sections += struct.pack("<IIQQQQ", 1, 1, 0, 0, data_off, len(data)).ljust(64, b"\0")
    sections += struct.pack("<IIQQQQ", 12, 3, 0, 0, str_off, len(names)).ljust(64, b"\0")
    blob = bytes(header) + data + names
    return blob.ljust(sh_off, b"\0") + sections


def test_fatbin_reader_on_a_synthetic_library(tmp_path):
    path = tmp_path / "libmxnet.so"
    path.write_bytes(synthetic_elf(fatbin([(2, 50), (2, 86), (1, 80)])))
    archs = gpu_support.mxnet_gpu_archs(str(path))
    assert archs["cubin"] == [50, 86] and archs["ptx"] == [80]


def test_cpu_mxnet_has_no_gpu_code():
    archs = gpu_support.mxnet_gpu_archs()
    assert archs["cubin"] == [] and archs["ptx"] == [] and "CPU build" in archs["source"]


def test_elf_reader_refuses_other_files(tmp_path):
    path = tmp_path / "x.so"
    path.write_bytes(b"not an elf" * 10)
    with open(path, "rb") as f, pytest.raises(ValueError, match="not a 64-bit"):
        gpu_support.elf_section(f, ".nv_fatbin")


# ---------------------------------------------------------------------------
# finding and preloading the wheel libraries
# ---------------------------------------------------------------------------
def fake_wheels(root, names):
    for component, soname in names:
        d = root / component / "lib"
        d.mkdir(parents=True, exist_ok=True)
        (d / soname).write_bytes(b"")


def test_resolution_in_fake_wheels(tmp_path):
    fake_wheels(tmp_path, [("cudnn", "libcudnn.so.8"), ("cudnn", "libcudnn_ops_infer.so.8"),
                           ("cublas", "libcublas.so.11"), ("cublas", "libcublasLt.so.11")])
    rows = {name: path for name, path, _ in gpu_env.resolve_libraries([str(tmp_path)])}
    assert rows["libcudnn.so.8"].endswith("cudnn/lib/libcudnn.so.8")
    assert rows["libcudnn_ops_infer.so.8"].endswith("libcudnn_ops_infer.so.8")
    assert rows["libcublasLt.so.11"].endswith("cublas/lib/libcublasLt.so.11")
    assert rows["libnvToolsExt.so.1"] is None and rows["libcudart.so.11.0"] is None
    report = {r["library"]: r for r in gpu_env.library_report([str(tmp_path)])}
    assert report["libcuda.so.1"]["provided_by"].startswith("the NVIDIA driver")
    assert report["libnvToolsExt.so.1"]["provided_by"] == "nvidia-nvtx-cu11"


def test_preload_retries_until_dependencies_are_loaded(tmp_path):
    """cuBLAS fails while cuBLASLt is not loaded; cuSOLVER needs both; one library
    never loads and is reported."""
    fake_wheels(tmp_path, [("cusolver", "libcusolver.so.11"), ("cublas", "libcublas.so.11"),
                           ("cublas", "libcublasLt.so.11"), ("nccl", "libnccl.so.2")])
    needs = {"libcublas.so.11": {"libcublasLt.so.11"},
             "libcusolver.so.11": {"libcublas.so.11", "libcublasLt.so.11"}}
    order = []

    def loader(path):
        name = os.path.basename(path)
        if name == "libnccl.so.2":
            raise OSError("libnccl.so.2: invalid ELF header")
        if not needs.get(name, set()) <= set(order):
            raise OSError("missing dependency of %s" % name)
        order.append(name)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = gpu_env.preload_cuda_libraries([str(tmp_path)], loader=loader)
    assert set(loaded) == {"libcusolver.so.11", "libcublas.so.11", "libcublasLt.so.11"}
    assert order.index("libcublasLt.so.11") < order.index("libcublas.so.11") < order.index(
        "libcusolver.so.11")
    assert any("could not preload libnccl.so.2" in str(w.message) for w in caught)


def test_preload_is_a_no_op_for_the_cpu_build_or_once_mxnet_is_imported(monkeypatch):
    import mxnet  # noqa: F401

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gpu_env.preload_for_installed_mxnet("mxnet") == {}
        assert gpu_env.preload_for_installed_mxnet("mxnet-cu112") == {}  # too late: no-op
        monkeypatch.delitem(sys.modules, "mxnet")
        monkeypatch.setenv("SSAP_NO_CUDA_PRELOAD", "1")
        assert gpu_env.preload_for_installed_mxnet("mxnet-cu112") == {}


def test_import_ssap_gluon_loads_the_preload_but_not_the_diagnostics():
    code = ("import sys, ssap_gluon; "
            "print('ssap_gluon.utils.gpu_env' in sys.modules, "
            "'ssap_gluon.utils.gpu_support' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert proc.stdout.split() == ["True", "False"], proc.stdout + proc.stderr


# ---------------------------------------------------------------------------
# the script on this (CPU) machine
# ---------------------------------------------------------------------------
def test_check_script_reports_clearly_on_the_cpu(tmp_path):
    out = tmp_path / "env.json"
    proc = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "check_gpu_env.py"),
                           "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = proc.stdout
    assert "mxnet: mxnet 1.9.1" in text and "CUDA=off" in text
    assert "GPU code in libmxnet.so: cubins none" in text
    assert "GPUs: none" in text and "verdict: OK" in text
    report = json.loads(out.read_text())
    assert report["ok"] is True and report["mxnet_distribution"] == "mxnet"

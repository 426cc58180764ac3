"""The README's make targets, dry-run (nothing is installed or deleted here)."""
import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make(*args):
    return subprocess.run(["make", "-C", REPO, "--no-print-directory"] + list(args),
                          capture_output=True, text=True, timeout=60)


def test_help_lists_the_targets():
    out = make("help")
    assert out.returncode == 0
    for target in ("quickstart", "test", "install", "bench", "clean-build"):
        assert "make %s" % target in out.stdout


def test_switching_the_mxnet_build_removes_the_other_one(tmp_path):
    venv = str(tmp_path / "venv")  # no stamp there: the install recipe is printed
    cpu = make("-n", "install", "VENV=" + venv).stdout
    gpu = make("-n", "install", "VENV=" + venv, "SSAP_MXNET=cu112").stdout
    assert "pip uninstall --quiet --yes mxnet-cu112" in cpu
    assert "pip uninstall --quiet --yes mxnet " in gpu
    assert "SSAP_MXNET=cu112" in gpu
    # the interpreter of an existing virtual environment is checked too, not only $(PYTHON)
    assert "if [ -x %s/bin/python ]; then %s/bin/python -c" % (venv, venv) in cpu


def test_clean_build_drops_the_install_stamp(tmp_path):
    out = make("-n", "clean-build", "VENV=" + str(tmp_path / "venv")).stdout
    assert "rm -f %s/.ssap-installed-*" % (tmp_path / "venv") in out


def test_a_too_new_interpreter_is_refused_with_a_clear_message(tmp_path):
    fake = tmp_path / "python3.12"
    # a stand-in interpreter: the real one, pretending to be 3.12
    fake.write_text("#!/bin/sh\nexec %s -c 'import sys; sys.version_info = (3, 12, 0); "
                    "exec(sys.argv[2])' x \"$2\" \"$3\"\n" % os.sys.executable)
    fake.chmod(0o755)
    out = make("install", "VENV=" + str(tmp_path / "venv"), "PYTHON=" + str(fake))
    assert out.returncode != 0
    assert "needs Python 3.9-3.11" in out.stderr and "is 3.12" in out.stderr
    assert not (tmp_path / "venv").exists()

"""Shared fixtures.

* ``cityscapes_sample_root``: the one real Cityscapes val frame in
  ``../shared/data/cityscapes_sample`` (read in place, never copied into the
  repo); tests using it skip when it is absent.
* ``synthcity_root``: a small SynthCity dataset generated once per test session.
"""
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CITYSCAPES_SAMPLE = os.environ.get(
    "SSAP_CITYSCAPES_SAMPLE",
    os.path.join(REPO, "..", "shared", "data", "cityscapes_sample"))

# Size of the session's SynthCity: enough frames for the loaders and the
# evaluator, small enough to generate in a few seconds.
SYNTHCITY_TEST_FRAMES = {"num_train": 6, "num_val": 4, "num_test": 2}


@pytest.fixture(scope="session")
def cityscapes_sample_root():
    root = os.path.abspath(CITYSCAPES_SAMPLE)
    if not os.path.isdir(os.path.join(root, "gtFine")):
        pytest.skip("real Cityscapes sample not present at %s" % root)
    return root


@pytest.fixture(scope="session")
def synthcity_root(tmp_path_factory):
    from ssap_gluon.data.synthcity import generate_synthcity

    root = tmp_path_factory.mktemp("synthcity")
    generate_synthcity(str(root), seed=1234, **SYNTHCITY_TEST_FRAMES)
    return str(root)

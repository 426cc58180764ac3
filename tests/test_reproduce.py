"""The table scripts in --smoke mode on the embedded default: every table of the
paper is produced with all its rows, beside the paper's numbers; a second run
reuses the trainings and the written frames; the shipped model's checksum.

All tables share one output root (module fixture), as a user's runs do, so rows
that several tables need (Table 2's r = 5 is Table 6's BD/OL/k3 and Table 3's
hierarchical JL) train once.
"""
import json
import os
import subprocess
import sys

import pytest

from ssap_gluon.reproduction import paper_table
from ssap_gluon.reproduction.shipped import ShippedModelError, checksums, verify_shipped
from ssap_gluon.reproduction.tables import TABLES

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts"))

import reproduce  # noqa: E402


@pytest.fixture(scope="module")
def out_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("reproduction"))


def _run(table, out_root, synthcity_root, capsys):
    rc = reproduce.main(["--table", str(table), "--smoke", "--no-progress", "--out", out_root,
                         "--dataset", "synthcity", "--opts", "DATASET.ROOT", synthcity_root])
    captured = capsys.readouterr()
    assert rc == 0, captured.err[-3000:]
    with open(os.path.join(out_root, "synthcity_smoke", "table%d.json" % table)) as f:
        payload = json.load(f)
    return captured.out, captured.err, payload


def _markdown_tables(text):
    """The body rows (header and separator dropped) of each markdown table."""
    tables, current = [], None
    for line in text.splitlines():
        if line.startswith("|"):
            if current is None:
                current = []
                tables.append(current)
            current.append(line)
        else:
            current = None
    return [t[2:] for t in tables]


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_table_is_printed_with_all_its_rows(table, out_root, synthcity_root, capsys):
    out, _, payload = _run(table, out_root, synthcity_root, capsys)
    paper = paper_table(table)
    assert "# Table %d" % table in out and "--smoke" in out
    assert payload["table"] == table and payload["mode"] == "synthcity" and payload["smoke"]
    spec = TABLES[table]
    if spec.kind in ("train", "inference"):
        assert len(payload["rows"]) == len(paper.rows)
        for row, paper_row in zip(payload["rows"], paper.rows):
            assert row["paper"] == paper_row
            if row["skipped"]:  # only the ResNet-101 row has no SynthCity model
                assert row["config"] == "table7_r101_sr_hf_ms" and row["ours"] is None
                continue
            for key in spec.metrics:
                if paper_row.get(key) is not None:
                    assert row["ours"][key] is not None, (row["config"], key)
        # one printed line per paper row, in the paper's layout
        tables = _markdown_tables(out)
        assert len(tables[0]) == len(paper.rows)
        if table == 4:  # plus the GP time at Cityscapes scale, one line per init stride
            assert len(tables) == 2 and len(tables[1]) == len(paper.rows)
            assert [l.split("|")[1].strip() for l in tables[1]] == \
                [l.split("|")[1].strip() for l in tables[0]]
    else:
        # Tables 8-10: the paper's rows and ours, from scripts/test.py's report
        for row in paper.rows:
            assert row["method"] in out
        assert "ours (ssap-gluon)" in out
    if table == 4:
        assert os.path.isfile(payload["figures"]["fig5"])


def test_a_second_run_reuses_trainings_and_frames(out_root, synthcity_root, capsys):
    _run(6, out_root, synthcity_root, capsys)  # done by the parametrized test, or now
    _, err, payload = _run(6, out_root, synthcity_root, capsys)
    assert err.count("reusing") == len(TABLES[6].rows) and "training " not in err
    for row in payload["rows"]:
        with open(os.path.join(out_root, "synthcity_smoke", "table6", row["config"],
                               "metrics.json")) as f:
            assert json.load(f)["timing"]["frames_predicted_now"] == 0


def test_the_shell_script_runs_the_table(out_root, synthcity_root):
    proc = subprocess.run(["bash", os.path.join(REPO, "scripts", "reproduce_table5.sh"),
                           "--smoke", "--no-progress", "--out", out_root, "--dataset",
                           "synthcity", "--opts", "DATASET.ROOT", synthcity_root],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "# Table 5" in proc.stdout and "A1 only" in proc.stdout


def test_user_errors_exit_2_with_one_paragraph(out_root, capsys):
    rc = reproduce.main(["--table", "4", "--smoke", "--out", out_root, "--dataset", "synthcity",
                         "--opts", "DATASET.ROOT", os.path.join(out_root, "absent")])
    err = capsys.readouterr().err
    # progress lines may come first; the error is the last paragraph, one line
    last = err.rstrip("\n").split("\n")[-1]
    assert rc == 2 and last.startswith("error: ") and "absent" in last
    assert "DATASET.ROOT" in last and "Traceback" not in err


def test_the_shipped_model_matches_its_recorded_checksum():
    sums = checksums(REPO)
    assert "model_fp16.params" in sums
    path = verify_shipped(REPO)
    assert os.path.getsize(path) < 25 * 2 ** 20  # fp16 in git: under 25 MB


def test_a_changed_shipped_file_is_refused(tmp_path):
    model_dir = tmp_path / "models" / "synthcity_r18"
    model_dir.mkdir(parents=True)
    (model_dir / "model_fp16.params").write_bytes(b"changed")
    (model_dir / "SHA256SUMS").write_text("%s  model_fp16.params\n" % ("0" * 64))
    with pytest.raises(ShippedModelError, match="does not match its SHA-256"):
        verify_shipped(str(tmp_path))


def test_ship_model_packages_a_run_that_verify_shipped_accepts(synthcity_root, tmp_path):
    import ship_model

    from ssap_gluon.inference.weights import load_weights
    from ssap_gluon.model import build_model
    from ssap_gluon.training import SSAPTrainer
    from test_train import tiny_cfg

    run = str(tmp_path / "run")
    cfg = tiny_cfg(synthcity_root, run, **{"SOLVER.MAX_ITER": 2, "TRAIN.DEVICES": "cpu"})
    SSAPTrainer(cfg, progress=False).train()
    repo = tmp_path / "repo"
    out = repo / "models" / "synthcity_r18"
    assert ship_model.main(["--run", run, "--out", str(out), "--command", "train it",
                            "--commit", "abc123"]) == 0
    assert verify_shipped(str(repo)) == str(out / "model_fp16.params")
    text = (out / "README.md").read_text()
    assert "`train it`" in text and "`abc123`" in text and "2 iterations" in text
    net = build_model(cfg)
    load_weights(net, str(out / "model_fp16.params"))  # float16 file, float32 network

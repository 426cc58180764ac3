"""The paper's numbers (ssap_gluon/reproduction/paper_tables.yaml) against the paper text.

Every row's run of numeric columns must appear, as printed, in the paper text
(/work/shared/paper/ssap_iccv2019.txt or $SSAP_PAPER_TEXT; skipped when absent),
so a typo in the transcription fails here.
"""
import os
import re

import pytest

from ssap_gluon.reproduction import paper_table, paper_tables

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAPER_TEXT = os.environ.get("SSAP_PAPER_TEXT",
                            os.path.join(REPO, "..", "shared", "paper", "ssap_iccv2019.txt"))


@pytest.fixture(scope="module")
def paper_text():
    if not os.path.isfile(PAPER_TEXT):
        pytest.skip("paper text not present at %s" % PAPER_TEXT)
    with open(PAPER_TEXT, encoding="utf-8") as f:
        return " ".join(f.read().split())


def numeric_run(table):
    """The longest run of adjacent columns holding only numbers / nulls."""
    def numeric(key):
        return all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
                   for v in table.column(key))
    best, run = [], []
    for key in table.keys:
        run = run + [key] if numeric(key) else []
        if len(run) > len(best):
            best = run
    return best


def test_ten_tables_with_the_papers_shapes():
    tables = paper_tables()
    assert sorted(tables, key=lambda n: int(n[5:])) == ["table%d" % i for i in range(1, 11)]
    rows = {n: len(t.rows) for n, t in tables.items()}
    assert rows == {"table1": 6, "table2": 5, "table3": 6, "table4": 5, "table5": 5,
                    "table6": 4, "table7": 5, "table8": 8, "table9": 2, "table10": 8}
    assert paper_table(10).titles[2:6] == ("AP", "AP50%", "AP50m", "AP100m")
    assert paper_table(9).titles[1] == "PQ [val]"


@pytest.mark.parametrize("name", ["table%d" % i for i in range(1, 11)])
def test_every_row_is_in_the_paper_text(paper_text, name):
    table = paper_table(name)
    keys = numeric_run(table)
    assert len(keys) >= 3, keys
    for row in table.rows:
        parts = []
        for k in keys:
            v = row[k]
            text = "-" if v is None else repr(v)
            # a footnote mark right after a number ("49.61" = 49.6 + footnote 1)
            parts.append(re.escape(text) + (r"\d?" if row.get("note") else ""))
        pattern = r"(?<![\d.])" + " ".join(parts) + r"(?![\d.])"
        assert re.search(pattern, paper_text), (name, row)


def test_the_rows_test_py_compares_with():
    t8 = paper_table(8)
    assert t8.row(method="SSAP (ours)", backbone="ResNet-50") == {
        "method": "SSAP (ours)", "AP": 34.4, "PQ_Th": 50.6, "PQ": 58.4, "backbone": "ResNet-50"}
    assert t8.row(method="SSAP (ours)", backbone="ResNet-101")["PQ"] == 61.1
    assert paper_table(9).row(method="SSAP (ours)")["PQ_val"] == 36.5
    assert paper_table(10).row(method="SSAP (ours)")["AP"] == 32.7
    with pytest.raises(KeyError, match="2 rows match"):
        t8.row(method="SSAP (ours)")

"""Which experiment stands behind each row of the paper's Tables 1-10.

Every row names its config under ``configs/tables/`` (the paper's setting for
that row, ``_BASE_: ablation_base.yaml``); the rows are listed in the paper's
order, so row ``i`` here is row ``i`` of ``paper_tables.yaml``.

Kinds of tables:

* ``train`` (Tables 1, 2, 3, 6): every row is its own model, trained for the
  row (rows with the same training config share one run);
* ``inference`` (Tables 4, 5, 7): every row evaluates one model with other
  test settings; the network runs once per frame for all rows;
* ``comparison`` (Table 8), ``coco`` (Table 9), ``server`` (Table 10): one
  model, our row beside the paper's (``scripts/test.py``'s report).
"""
from dataclasses import dataclass, field
from typing import Optional, Tuple

__all__ = ["Row", "TableSpec", "TABLES", "table_spec"]


@dataclass(frozen=True)
class Row:
    """config: the row's config stem under configs/tables/;
    semantic_config: Table 3 "w/o JL" -- the semantic scores come from this
    separately trained semantic-only model (the row's own model is affinity-only);
    embedded: the row also runs on the embedded default (False: a ResNet-101
    row, which has no SynthCity model);
    model: inference rows -- the model it evaluates, if not the table's."""

    config: str
    semantic_config: Optional[str] = None
    embedded: bool = True
    model: Optional[str] = None


@dataclass(frozen=True)
class TableSpec:
    number: int
    kind: str
    rows: Tuple[Row, ...]
    #: our measured columns (keys of the paper table's columns)
    metrics: Tuple[str, ...]
    #: inference / comparison tables: the config of the model they evaluate
    model: str = "r50"
    notes: Tuple[str, ...] = field(default_factory=tuple)


def _rows(*configs, **kwargs):
    return tuple(Row(c, **kwargs) for c in configs)


_SEMANTIC_ONLY = "table2_r0_semantic_only"

TABLES = {
    1: TableSpec(1, "train", _rows(
        "table1_alpha0.0003_lambda_diff", "table1_alpha0.001_lambda_diff",
        "table1_alpha0.003_lambda_diff", "table1_alpha0.003_lambda_same",
        "table1_alpha0.01_lambda_diff", "table1_alpha0.03_lambda_diff"),
        ("AP", "PQ_Th", "PQ")),
    2: TableSpec(2, "train", _rows(
        "table2_r0_semantic_only", "table2_r3", "table2_r5", "table2_r7", "table2_r9"),
        ("AP", "PQ_Th", "PQ", "mIoU"),
        notes=("r = 0 trains semantic segmentation only: no instances, mIoU alone.",)),
    3: TableSpec(3, "train", (
        Row("table3_single_nodilation_wo_jl", semantic_config=_SEMANTIC_ONLY),
        Row("table3_single_nodilation_jl"),
        Row("table3_single_dilation_wo_jl", semantic_config=_SEMANTIC_ONLY),
        Row("table3_single_dilation_jl"),
        Row("table3_hierarchical_wo_jl", semantic_config=_SEMANTIC_ONLY),
        Row("table3_hierarchical_jl")),
        ("AP", "PQ_Th", "PQ", "mIoU"),
        notes=("w/o JL: two networks, an affinity-only model of the row's feature "
               "and the semantic-only model of Table 2 (r = 0); its mIoU is that model's.",)),
    4: TableSpec(4, "inference", _rows(
        "table4_init_s4", "table4_init_s8", "table4_init_s16", "table4_init_s32",
        "table4_init_s64"),
        ("gp_time_s", "AP", "PQ_Th", "PQ")),
    5: TableSpec(5, "inference", _rows(
        "table5_A1_only", "table5_A1-A2", "table5_A1-A3", "table5_A1-A4", "table5_A1-A5"),
        ("AP", "PQ_Th", "PQ")),
    6: TableSpec(6, "train", _rows(
        "table6_noBD_noOL_k3", "table6_BD_noOL_k3", "table6_BD_OL_k3", "table6_BD_OL_k5"),
        ("AP", "PQ_Th", "PQ")),
    7: TableSpec(7, "inference", (
        Row("table7_r50"), Row("table7_r50_sr"), Row("table7_r50_sr_hf"),
        Row("table7_r50_sr_hf_ms"), Row("table7_r101_sr_hf_ms", embedded=False, model="r101")),
        ("AP", "PQ_Th", "PQ"),
        notes=("The ResNet-101 row evaluates configs/r101.yaml's model; the embedded "
               "default has no ResNet-101 model.",)),
    8: TableSpec(8, "comparison", _rows("table7_r50_sr_hf_ms"), ("AP", "PQ_Th", "PQ")),
    9: TableSpec(9, "coco", (), ("PQ", "SQ", "RQ", "PQ_Th", "SQ_Th", "RQ_Th", "PQ_St",
                                "SQ_St", "RQ_St"), model="coco_r101"),
    10: TableSpec(10, "server", (Row("table7_r101_sr_hf_ms", model="r101"),), ("AP",),
                  model="r101"),
}


def table_spec(number):
    if number not in TABLES:
        raise KeyError("the paper has Tables 1-10; got %r" % (number,))
    return TABLES[number]

"""What reproducing the paper needs beyond the model: the paper's own numbers
(Tables 1-10, ``paper_tables.yaml``, :func:`paper_table`), shared by
``scripts/test.py`` and the table scripts. No mxnet here."""
from .paper import PAPER_TABLES_FILE, PaperTable, paper_table, paper_tables

__all__ = ["PAPER_TABLES_FILE", "PaperTable", "paper_table", "paper_tables"]

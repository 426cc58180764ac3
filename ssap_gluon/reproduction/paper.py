"""The paper's Tables 1-10 (``paper_tables.yaml``, transcribed once) as objects.

>>> t8 = paper_table(8)
>>> t8.titles                     # the paper's column names
('Method', 'AP (%)', 'PQTh (%)', 'PQ (%)', 'Backbone')
>>> t8.row(method="SSAP (ours)", backbone="ResNet-50")["AP"]
34.4

Numbers are percentages as printed (Table 4's GP time in seconds); ``None`` is
the paper's "-". The file is checked at load: every table has its rows keyed
by exactly its columns (plus an optional ``note``), values are numbers,
strings, booleans or ``None``.
"""
import functools
import os
from dataclasses import dataclass
from typing import Tuple

__all__ = ["PaperTable", "paper_tables", "paper_table", "PAPER_TABLES_FILE", "PAPER_SOURCE"]

PAPER_TABLES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "paper_tables.yaml")
NUM_TABLES = 10


@dataclass(frozen=True)
class PaperTable:
    """One table: ``columns`` = ((key, the paper's column name), ...), ``rows``
    = one dict per row (keys = the column keys, optionally ``note``)."""

    name: str
    caption: str
    dataset: str
    columns: Tuple[Tuple[str, str], ...]
    rows: Tuple[dict, ...]

    @property
    def keys(self):
        return tuple(k for k, _ in self.columns)

    @property
    def titles(self):
        return tuple(t for _, t in self.columns)

    def title(self, key):
        return dict(self.columns)[key]

    def column(self, key):
        if key not in self.keys:
            raise KeyError("%s has no column %r (columns: %s)" % (self.name, key, self.keys))
        return [r[key] for r in self.rows]

    def find(self, **match):
        """Rows whose fields equal every given value."""
        for key in match:
            if key not in self.keys:
                raise KeyError("%s has no column %r (columns: %s)" % (self.name, key, self.keys))
        return [r for r in self.rows if all(r[k] == v for k, v in match.items())]

    def row(self, **match):
        """The one row matching (``KeyError`` unless exactly one does)."""
        found = self.find(**match)
        if len(found) != 1:
            raise KeyError("%s: %d rows match %r" % (self.name, len(found), match))
        return found[0]


def _check(name, data):
    where = "%s, %s" % (PAPER_TABLES_FILE, name)
    for key in ("caption", "dataset", "columns", "rows"):
        if key not in data:
            raise ValueError("%s: missing %r" % (where, key))
    columns = tuple((str(k), str(t)) for k, t in data["columns"])
    keys = [k for k, _ in columns]
    if len(set(keys)) != len(keys):
        raise ValueError("%s: duplicate column keys %s" % (where, keys))
    rows = []
    for i, row in enumerate(data["rows"], 1):
        extra = set(row) - set(keys) - {"note"}
        missing = set(keys) - set(row)
        if extra or missing:
            raise ValueError("%s, row %d: fields %s missing, %s unknown"
                             % (where, i, sorted(missing), sorted(extra)))
        for k, v in row.items():
            if v is not None and not isinstance(v, (int, float, str, bool)):
                raise ValueError("%s, row %d, %s: %r is not a number, text, bool or null"
                                 % (where, i, k, v))
        rows.append(dict(row))
    if not rows:
        raise ValueError("%s: no rows" % where)
    return PaperTable(name, str(data["caption"]), str(data["dataset"]), columns, tuple(rows))


@functools.lru_cache(maxsize=1)
def _load():
    import yaml

    with open(PAPER_TABLES_FILE, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    tables = {name: _check(name, t) for name, t in data["tables"].items()}
    expected = ["table%d" % i for i in range(1, NUM_TABLES + 1)]
    if sorted(tables, key=lambda n: int(n[5:])) != expected:
        raise ValueError("%s: expected tables %s, found %s"
                         % (PAPER_TABLES_FILE, expected, sorted(tables)))
    return data["source"], tables


def paper_tables():
    """``{"table1": PaperTable, ..., "table10": PaperTable}`` (loaded once)."""
    return dict(_load()[1])


def paper_table(name):
    """One table by name (``"table8"``) or number (``8``)."""
    key = "table%d" % name if isinstance(name, int) else str(name)
    tables = _load()[1]
    if key not in tables:
        raise KeyError("no paper table %r (have %s)" % (name, ", ".join(tables)))
    return tables[key]


def __getattr__(name):
    if name == "PAPER_SOURCE":
        return _load()[0]
    raise AttributeError(name)

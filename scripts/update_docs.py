#!/usr/bin/env python
"""Refresh the generated parts of the docs from their sources (never typed by hand).

    python scripts/update_docs.py [--check]

* docs/TRAINING.md: the table of every config key's valid range
  (``ssap_gluon.config.ranges_markdown``);
* docs/REPRODUCTION.md: each table's section between
  ``<!-- table N: begin -->`` and ``<!-- table N: end -->`` from
  ``output/reproduction/synthcity/table<N>.md`` (written by
  ``scripts/reproduce_table<N>.sh``), when that file exists.

``--check``: change nothing; exit 1 if a generated part is out of date.
"""
import argparse
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def _replace_ranges(text, table):
    start = text.index("| key | default | valid |")
    end = text.index("<!-- end of ranges table -->", start)
    return text[:start] + table + text[end:]


def _replace_marked(text, number, body):
    pattern = re.compile(r"(<!-- table %d: begin -->\n).*?(<!-- table %d: end -->)"
                         % (number, number), re.S)
    if not pattern.search(text):
        return text
    return pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text)


def updated_docs():
    """``{path: new text}`` of every doc with generated parts."""
    from ssap_gluon.config import ranges_markdown

    out = {}
    path = os.path.join(REPO, "docs", "TRAINING.md")
    with open(path, encoding="utf-8") as f:
        out[path] = _replace_ranges(f.read(), ranges_markdown())
    path = os.path.join(REPO, "docs", "REPRODUCTION.md")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for number in range(1, 11):
            table = os.path.join(REPO, "output", "reproduction", "synthcity",
                                 "table%d.md" % number)
            if os.path.isfile(table):
                with open(table, encoding="utf-8") as f:
                    body = f.read()
                # the generated file's own title becomes a sub-heading here
                body = re.sub(r"^# Table (\d+): .*\n", "", body, count=1).lstrip("\n")
                text = _replace_marked(text, number, body)
        out[path] = text
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true")
    args = p.parse_args(argv)
    from ssap_gluon.utils.io import atomic_write

    stale = []
    for path, text in updated_docs().items():
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                continue
        stale.append(os.path.relpath(path, REPO))
        if not args.check:
            with atomic_write(path, "w") as f:
                f.write(text)
    for path in stale:
        print("%s %s" % ("out of date:" if args.check else "updated:", path))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())

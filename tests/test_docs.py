"""The docs name only things that exist, and their generated parts are current.

README.md and docs/*.md mention modules, functions, scripts, configs and
config keys by name; every rename or removal in the code must show up here,
not in a reader's traceback. Checked per file:

(a) every dotted name starting with ``ssap_gluon`` (``ssap_gluon.x.y``,
    ``from ssap_gluon.x import y, z``), and every backticked one of three or
    more parts that starts with a sub-package (``inference.oracle.oracle_pyramid``),
    imports and resolves by ``getattr``;
(b) every ``scripts/...``, ``configs/...``, ``ssap_gluon/...``, ``tests/...``
    and ``csrc/...`` file path exists, and every relative Markdown link points
    at a file that exists and, with ``#anchor``, at one of its headings;
(c) every config key ``SECTION.KEY`` (SECTION one of the config's sections)
    exists in :func:`ssap_gluon.config.get_default_config`;
(d) no pointer into the project's private notes (numbered "open details" or
    the shared folder) in README.md, docs/, ssap_gluon/, configs/, scripts/;
(e) ``python scripts/update_docs.py --check`` passes (generated doc parts are
    current: the config-ranges table, the reproduced tables).

A failure lists every broken mention with its file and line.
"""
import glob
import importlib
import importlib.util
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ["README.md"] + sorted(os.path.relpath(p, REPO)
                              for p in glob.glob(os.path.join(REPO, "docs", "*.md")))

#: Mentions that look like config keys but are not keys, each with its reason.
NOT_CONFIG_KEYS = {
}

SECTIONS = ("DATASET", "INPUT", "DATALOADER", "MODEL", "AFFINITY", "LOSS", "SOLVER", "TRAIN",
            "TEST")
DOTTED = re.compile(r"\bssap_gluon(?:\.[A-Za-z_]\w*)+")
#: a backticked dotted name of three or more parts that starts with a sub-package
#: (`inference.oracle.oracle_pyramid`): short for ssap_gluon.<name>
SUBPACKAGE = re.compile(r"`((?:config|data|evaluation|inference|losses|model|partition|"
                        r"reproduction|targets|training|utils)(?:\.[A-Za-z_]\w*){2,})[`(\[]")
FROM_IMPORT = re.compile(r"\bfrom\s+(ssap_gluon(?:\.\w+)*)\s+import\s+(\([^)]*\)|[^\n]+)")
PATH = re.compile(r"(?<![\w./-])((?:scripts|configs|ssap_gluon|tests|csrc)/[\w./-]*\w"
                  r"\.(?:py|yaml|sh|pyx|hpp|md))(?![\w*<])")
KEY = re.compile(r"(?<![\w.])(%s)\.([A-Z][A-Z0-9_]*)(?![\w*])" % "|".join(SECTIONS))
LINK = re.compile(r"\]\(([^)\s]+)\)")
PRIVATE = re.compile(r"\bOPEN[ _-]?\d+\b|\bOPEN_DETAILS\b|\.\./shared\b|/work/shared\b")


def _read(rel):
    with open(os.path.join(REPO, rel), encoding="utf-8") as f:
        return f.read()


def _line(text, pos):
    return text.count("\n", 0, pos) + 1


def _resolve(dotted):
    """None if ``dotted`` imports / resolves, else why not."""
    parts = dotted.split(".")
    module, i = None, len(parts)
    while i > 0:
        name = ".".join(parts[:i])
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            spec = None
        if spec is not None:
            try:
                module = importlib.import_module(name)
            except Exception as e:  # a module that fails to import is broken too
                return "import %s failed: %s: %s" % (name, type(e).__name__, e)
            break
        i -= 1
    if module is None:
        return "no module"
    obj = module
    for j in range(i, len(parts)):
        try:
            obj = getattr(obj, parts[j])
        except AttributeError:
            return "%s has no attribute %r" % (".".join(parts[:j]), parts[j])
    return None


def _names(text):
    """``[(dotted name, line)]`` mentioned in ``text``."""
    out = [(m.group(0), _line(text, m.start())) for m in DOTTED.finditer(text)]
    out += [("ssap_gluon." + m.group(1), _line(text, m.start())) for m in SUBPACKAGE.finditer(text)]
    for m in FROM_IMPORT.finditer(text):
        module, names = m.group(1), m.group(2).strip("()")
        names = re.sub(r"#[^\n]*", "", names)
        for name in names.split(","):
            name = name.strip().split(" as ")[0].strip()
            if re.fullmatch(r"[A-Za-z_]\w*", name):
                out.append(("%s.%s" % (module, name), _line(text, m.start())))
    return out


@pytest.mark.parametrize("doc", DOCS)
def test_dotted_names_resolve(doc):
    text = _read(doc)
    broken = sorted({"%s:%d: %s (%s)" % (doc, line, name, why)
                     for name, line in _names(text) for why in [_resolve(name)] if why})
    assert not broken, "names that do not resolve:\n  " + "\n  ".join(broken)


@pytest.mark.parametrize("doc", DOCS)
def test_paths_exist(doc):
    text = _read(doc)
    broken = ["%s:%d: %s" % (doc, _line(text, m.start()), m.group(1))
              for m in PATH.finditer(text) if not os.path.exists(os.path.join(REPO, m.group(1)))]
    assert not broken, "paths that do not exist:\n  " + "\n  ".join(broken)


def _anchors(text):
    """GitHub's heading anchors of a Markdown text (plus explicit ``<a id=...>``)."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    seen, out = {}, set(re.findall(r"<a id=\"([^\"]+)\"", text))
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*#*$", text, flags=re.M):
        heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else "%s-%d" % (slug, n))
    return out


@pytest.mark.parametrize("doc", DOCS)
def test_links_resolve(doc):
    text = _read(doc)
    broken = []
    for m in LINK.finditer(text):
        target = m.group(1)
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        rel = os.path.normpath(os.path.join(os.path.dirname(doc), path)) if path else doc
        where = "%s:%d: %s" % (doc, _line(text, m.start()), target)
        if not os.path.exists(os.path.join(REPO, rel)):
            broken.append(where + " (no such file)")
        elif anchor and rel.endswith(".md") and anchor not in _anchors(_read(rel)):
            broken.append(where + " (no such heading)")
    assert not broken, "links that do not resolve:\n  " + "\n  ".join(broken)


@pytest.mark.parametrize("doc", DOCS)
def test_config_keys_exist(doc):
    from ssap_gluon.config import get_default_config

    cfg = get_default_config()
    text = _read(doc)
    broken = []
    for m in KEY.finditer(text):
        key = "%s.%s" % (m.group(1), m.group(2))
        if key in NOT_CONFIG_KEYS or m.group(2) in cfg[m.group(1)]:
            continue
        broken.append("%s:%d: %s" % (doc, _line(text, m.start()), key))
    assert not broken, "config keys that do not exist:\n  " + "\n  ".join(broken)


def _private_scope():
    files = list(DOCS)
    for pattern in ("ssap_gluon/**/*.py", "ssap_gluon/**/*.yaml", "configs/**/*.yaml",
                    "scripts/*"):
        files += [os.path.relpath(p, REPO)
                  for p in glob.glob(os.path.join(REPO, pattern), recursive=True)
                  if os.path.isfile(p)]
    return sorted(set(files))


@pytest.mark.parametrize("path", _private_scope())
def test_no_pointer_into_private_notes(path):
    text = _read(path)
    found = ["%s:%d: %r" % (path, _line(text, m.start()), m.group(0))
             for m in PRIVATE.finditer(text)]
    assert not found, ("readers cannot see the project's private notes; name the doc heading "
                       "instead:\n  " + "\n  ".join(found))


def test_generated_doc_parts_are_current():
    """The parts generated from the code (the key-ranges table) match the code.
    REPRODUCTION.md's tables are a record of one measured run, not checked here:
    a user's own `make quickstart` writes new timings into output/ and must not
    make `make test` fail."""
    import runpy

    from ssap_gluon.config import ranges_markdown

    update_docs = runpy.run_path(os.path.join(REPO, "scripts", "update_docs.py"),
                                 run_name="update_docs")
    text = _read(os.path.join("docs", "TRAINING.md"))
    assert update_docs["_replace_ranges"](text, ranges_markdown()) == text, \
        "docs/TRAINING.md's ranges table is out of date; run python scripts/update_docs.py"


@pytest.mark.parametrize("doc", DOCS + [os.path.join("models", "synthcity_r18", "README.md")])
def test_no_unfilled_placeholder(doc):
    """A number still to be measured is never published as a marker."""
    path = os.path.join(REPO, doc)
    if not os.path.isfile(path):
        pytest.skip("%s absent" % doc)
    text = open(path, encoding="utf-8").read()
    for marker in ("⟨", "PLACEHOLDER", "TBD"):
        assert marker not in text, "%s holds the placeholder %r" % (doc, marker)

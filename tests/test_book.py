"""The book: it builds with warnings as errors, and refuses notebooks that failed or never ran."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _guard():
    spec = importlib.util.spec_from_file_location("notebook_guard", ROOT / "book" / "_ext" / "notebook_guard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _notebook(cells):
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_guard_reports_error_outputs_and_unexecuted_cells(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text(json.dumps(_notebook([
        {"cell_type": "code", "source": "1/0", "execution_count": 1, "metadata": {},
         "outputs": [{"output_type": "error", "ename": "ZeroDivisionError", "evalue": "division by zero",
                      "traceback": []}]},
        {"cell_type": "code", "source": "x = 1", "execution_count": None, "metadata": {}, "outputs": []},
        {"cell_type": "code", "source": "", "execution_count": None, "metadata": {}, "outputs": []},
    ])))
    assert _guard().notebook_problems(path) == [
        "code cell 0 raised ZeroDivisionError: division by zero",
        "code cell 1 was never executed",
    ]


def test_committed_notebooks_ran_cleanly():
    notebooks = sorted((ROOT / "book").glob("*.ipynb"))
    assert notebooks, "the book has no notebooks"
    for path in notebooks:
        assert _guard().notebook_problems(path) == [], path.name


def test_book_builds_with_warnings_as_errors(built_book):
    """The README's build command, run by the publishing workflow's steps (the ``built_book`` fixture)."""
    for page in ("book/intro.html", "book/ch01_spectral_feature_learning.html", "book/ch02_corrected_norm.html",
                 "book/ch02_1_repeated_operator.html", "book/ch02_2_which_size_counts.html",
                 "book/glossary.html", "book/api_reference.html"):
        assert (built_book / page).is_file(), page


def test_api_reference_has_highlighted_source_pages(built_book):
    api = (built_book / "book" / "api_reference.html").read_text(encoding="utf-8")
    assert 'id="gqa_mup_ref.spectral.rank_correction"' in api
    assert "_modules/gqa_mup_ref/spectral.html" in api, "no [source] link (sphinx.ext.viewcode)"
    source = (built_book / "_modules" / "gqa_mup_ref" / "spectral.html").read_text(encoding="utf-8")
    assert re.search(r'<span class="k">def</span>.{0,60}<span class="nf">rank_correction</span>', source), \
        "the source page is not highlighted"


def test_every_source_page_links_back_to_an_existing_api_entry(built_book):
    """Each [docs] link of a highlighted source page lands on an entry of the API reference. viewcode names a
    module's back-links after the first documented name whose code lives there, so a re-exported name left
    documented under the module that imports it (sweep.display_table, found this way) sent every [docs] link
    of analysis.py to anchors that do not exist."""
    api = (built_book / "book" / "api_reference.html").read_text(encoding="utf-8")
    anchors = set(re.findall(r'id="([^"]+)"', api))
    broken = {}
    for page in sorted((built_book / "_modules").rglob("*.html")):
        for anchor in re.findall(r'href="[^"]*api_reference\.html#([^"]+)"', page.read_text(encoding="utf-8")):
            if anchor not in anchors:
                broken.setdefault(page.name, []).append(anchor)
    assert not broken, f"[docs] links to missing API entries: {broken}"


def test_rule_tables_link_each_role_to_its_api_reference_entry(built_book):
    """Each row of a chapter's rule table (``rules_markdown``) links to the API reference's entry for the
    method defining that role's rule, and that entry exists on the page."""
    from gqa_mup_ref.parameterization import ROLES, rule_target

    api = (built_book / "book" / "api_reference.html").read_text(encoding="utf-8")
    link = re.compile(r'<a class="reference internal" href="api_reference\.html#([\w.]+)"[^>]*>'
                      r'<span class="[^"]*">([a-z_]+)</span></a>')
    with_tables = {"ch01_spectral_feature_learning", "ch02_1_repeated_operator", "ch03_2_rules_and_decay",
                   "ch04_1_the_groups"}
    pages = sorted((built_book / "book").glob("ch*.html"))
    assert with_tables <= {path.stem for path in pages}, "a page with rule tables was renamed: update this test"
    for path in pages:
        found = {(role, target) for target, role in link.findall(path.read_text(encoding="utf-8"))}
        for _, target in found:
            assert f'id="{target}"' in api, f"{path.name} links to {target}, which api_reference.html lacks"
        if path.stem in with_tables:
            assert found == {(role, rule_target(role)) for role in ROLES}, path.name


def test_api_reference_lists_every_module():
    """A new module of the package must be added to book/api_reference.md."""
    page = (ROOT / "book" / "api_reference.md").read_text(encoding="utf-8")
    modules = sorted(p.stem for p in (ROOT / "gqa_mup_ref").glob("*.py") if not p.stem.startswith("_"))
    missing = [m for m in modules if f".. automodule:: gqa_mup_ref.{m}\n" not in page]
    assert not missing, f"add these modules to book/api_reference.md: {missing}"


def test_citation_file_matches_the_package():
    import yaml

    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert citation["cff-version"] == "1.2.0"
    assert citation["title"] and citation["authors"] and citation["message"]
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert citation["version"] == version, "bump CITATION.cff's version with pyproject.toml's"
    assert citation["license"] == "MIT"


def test_every_reference_of_the_science_notes_is_in_the_bibliography():
    """Each reference listed in shared/science.md has a references.bib entry (matched by its title)."""
    import os

    candidates = [Path(os.environ.get("SHARED_DIR", ROOT / "shared")), ROOT.parent / "shared"]
    science = next((c / "science.md" for c in candidates if (c / "science.md").is_file()), None)
    if science is None:
        pytest.skip("shared/science.md is not beside the repository")
    bib = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    titles = {_words(t) for t in re.findall(r"title\s*=\s*\{(.+)\},?\s*$", bib, re.M)}
    notes = science.read_text(encoding="utf-8")
    section = notes[notes.index("## References"):notes.index("\n## ", notes.index("## References") + 5)]
    cited = [t.strip(" .") for t in re.findall(r"\*([^*]+)\*", section)]
    assert len(cited) >= 9, cited
    missing = [t for t in cited if not any(_words(t) <= words or words <= _words(t) for words in titles)]
    assert not missing, f"add to book/references.bib: {missing}"


def _words(title: str) -> frozenset:
    return frozenset(w for w in re.findall(r"[a-z]+", title.lower().replace("{", "").replace("}", ""))
                     if w not in ("mu", "p", "mathbf"))


def _sanitize(text: str) -> str:
    """Apply tests/nbval_sanitize.cfg as nbval does (its own parser, re.sub in file order)."""
    import re

    from nbval.plugin import get_sanitize_patterns

    for regex, replace in get_sanitize_patterns((ROOT / "tests" / "nbval_sanitize.cfg").read_text()):
        text = re.sub(regex, replace, text)
    return text


def test_sanitizer_forgives_the_last_digit_only():
    assert _sanitize("ratio 0.68, 1.207 and 18 %") == _sanitize("ratio 0.69, 1.206 and 17 %")
    assert _sanitize("ratio 0.68") != _sanitize("ratio 0.78")
    assert _sanitize("1.207") != _sanitize("1.217")
    assert _sanitize("within 18 %") != _sanitize("within 28 %")
    assert _sanitize("r = 16, n = 2048") == "r = 16, n = 2048"  # integers other than percentages stay


def test_the_readme_api_tour_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = re.search(r"## A one-screen API tour\n\n```python\n(.*?)```", readme, re.S)
    assert tour, "README has no API tour"
    namespace: dict = {}
    exec(compile(tour.group(1), "README.md (API tour)", "exec"), namespace)  # noqa: S102 - our own README
    assert namespace["rules"].groups["key"].lr_factor > namespace["rules"].groups["query"].lr_factor


GLOSSARY_LABELS = ("n", "n-q", "rho", "h", "h-kv", "r", "d", "m", "m-l", "l", "a-l", "alpha", "eta", "lambda",
                   "epsilon", "sigma0", "c-r", "k-oplus")


def test_the_glossary_defines_every_symbol_once():
    glossary = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
    for label in GLOSSARY_LABELS:
        assert glossary.count(f"(glossary-{label})=") == 1, label
    symbols = re.findall(r"^## \$(.+?)\$:", glossary, re.M)
    assert len(symbols) == len(set(symbols)) == len(GLOSSARY_LABELS), symbols


def test_rho_means_the_query_width_ratio_everywhere():
    """ρ once meant four things (query width ratio, residual multiplier, a rank ratio, a tile count); the glossary's
    ρ = n_q/n is the only one left: the residual multiplier is a_L."""
    from book_chapters import markdown, pages

    texts = {path.name: markdown(path) for path in pages()}
    texts["glossary.md"] = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
    for name, text in texts.items():
        for match in re.finditer(r"\\rho\b\s*=\s*([^$,]{0,30})", text):
            assert re.match(r"(\\frac\{n_q\}|n_q|H\s*d|1\b|[0-9]+/[0-9]|4/3|1/3|2\b)", match.group(1)), (name, match.group(0))
        for match in re.finditer(r"(residual|branch) multiplier[^.$]{0,12}\$\\rho", text):
            raise AssertionError((name, match.group(0)))


def test_the_glossary_agrees_with_the_package_symbols():
    """Each shape symbol of gqa_mup_ref.parameterization (SYMBOLS) has a glossary entry giving the same ratio."""
    from gqa_mup_ref.parameterization import SYMBOLS

    glossary = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
    entries = {"m": ("glossary-m", "n / n_{\\text{base}}"), "m_L": ("glossary-m-l", "L / L_{\\text{base}}"),
               "r": ("glossary-r", "H / H_{kv}"), "d": ("glossary-d", "n / H"),
               "rho": ("glossary-rho", "n_q / n")}
    assert set(SYMBOLS) == set(entries)
    for symbol, (label, ratio) in entries.items():
        section = glossary[glossary.index(f"({label})="):]
        section = section[:section.index("\n(glossary-", 5)]
        assert ratio in section, (symbol, ratio)


def _offline_assets():
    spec = importlib.util.spec_from_file_location("offline_assets", ROOT / "book" / "_ext" / "offline_assets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_offline_copies_are_the_versions_myst_nb_would_load_from_the_cdn():
    pytest.importorskip("myst_nb")
    from myst_nb.core.config import ipywidgets_js_factory

    urls = list(ipywidgets_js_factory())
    manager, requirejs = _offline_assets().cdn_versions(ipywidgets_js_factory())
    assert any(f"/@jupyter-widgets/html-manager@{manager}/dist/embed-amd.js" in url for url in urls)
    assert any(f"/require.js/{requirejs}/require" in url for url in urls)


def test_a_script_registered_twice_is_written_once():
    """sphinx-thebe registers its inline ``const THEBE_JS_URL`` twice (once as None, once as "")."""
    pytest.importorskip("sphinx")
    from sphinx.builders.html._assets import _JavaScript

    body = 'const THEBE_JS_URL = "x"'
    context = {"script_files": [_JavaScript(None, body=body), _JavaScript("a.js"), _JavaScript("", body=body),
                                _JavaScript("a.js"), _JavaScript("b.js", defer="defer")]}
    _offline_assets()._dedupe_scripts(None, "page", "page.html", context, None)
    assert [(js.filename or "", js.attributes.get("body")) for js in context["script_files"]] == [
        ("", body), ("a.js", None), ("b.js", None)]


def _build_info():
    spec = importlib.util.spec_from_file_location("build_info", ROOT / "book" / "_ext" / "build_info.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _git(cwd, *args):
    import subprocess

    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout.strip()


def test_the_footer_names_the_version_and_the_commit_of_a_checkout(tmp_path):
    import shutil

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "9.8.7"\n')
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "pyproject.toml")
    _git(tmp_path, "commit", "-q", "-m", "first")
    commit = _git(tmp_path, "rev-parse", "HEAD")
    date = _git(tmp_path, "log", "-1", "--format=%cs")
    info = _build_info()
    assert info.footer_text(tmp_path) == f"gqa-mup-ref 9.8.7 · commit {commit[:12]} ({date})"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "9.8.8"\n')
    assert info.footer_text(tmp_path) == f"gqa-mup-ref 9.8.8 · commit {commit[:12]} ({date}, with local changes)"
    (tmp_path / "book").mkdir()  # a folder inside the checkout is not the checkout the book is built from
    assert info.git_commit(tmp_path / "book") == "unknown commit"


def test_the_footer_says_unknown_commit_without_git_metadata(tmp_path):
    (tmp_path / "pyproject.toml").write_text('version = "1.2.3"\n')
    assert _build_info().footer_text(tmp_path) == "gqa-mup-ref 1.2.3 · unknown commit"


def test_every_page_of_the_built_book_names_version_and_commit(built_book):
    """The fixture builds a copy of the working tree without .git: the footer says so."""
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    pages = [p for p in built_book.rglob("*.html") if p.relative_to(built_book).parts[0] != "_static"]
    assert len(pages) > 10
    for page in pages:
        html = page.read_text(encoding="utf-8")
        if 'http-equiv="Refresh"' in html[:2000]:  # index.html, a redirect to the first page
            continue
        assert f'<p class="build-info">gqa-mup-ref {version} · unknown commit</p>' in html, page.name


def test_the_numbered_chapters_are_the_files_ch01_to_chnn_in_order():
    """The sidebar numbers the chapters in _toc.yml's first part; the prose's "Chapter n" is file ``ch0n_*``."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    numbered = [part for part in toc["parts"] if part.get("numbered")]
    assert len(numbered) == 1 and toc["parts"][0] is numbered[0], "number the first part, and only it"
    files = [entry["file"] for entry in numbered[0]["chapters"]]
    assert [re.match(r"book/ch(\d+)_", f) and int(re.match(r"book/ch(\d+)_", f).group(1)) for f in files] == \
        list(range(1, len(files) + 1)), files

"""Sphinx extension: the built book reads offline, with the same JavaScript an online reader gets.

By default a Jupyter Book page loads MathJax, require.js and the Jupyter widget manager from public CDNs
when it is viewed, so a reader with no network sees raw TeX and blank slider areas. This extension ships
those files with the book instead, under ``_static/offline/``, and points the pages at the local copies:

* MathJax 3 (``es5/tex-mml-chtml.js`` with its fonts and extensions) from the Python package
  ``django-static-mathjax`` (import name ``mathjax``), which the ``book`` extra installs;
* the widget manager (``@jupyter-widgets/html-manager``, ``dist/embed-amd.js``) and ``require.js``,
  at the versions myst-nb would load from the CDN, from the npm registry (``npm pack``), cached in
  ``$XDG_CACHE_HOME/gqa-mup-book`` (``~/.cache/gqa-mup-book``) so later builds need no network.

The files are copied straight into the output folder, not into a ``_static`` source folder: Jupyter
Book 1 adds every ``.js`` file of such a folder to every page, which would load the widget manager twice.
The extension also drops scripts that other extensions register twice (sphinx-thebe's inline
``const THEBE_JS_URL``, which is a console error on every page) and sets the theme's default colour mode
(an empty one is a console error too).

A missing asset is a Sphinx warning that names the fix, so the README's ``-W`` build fails rather than
publish a book that needs the network.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

OFFLINE = "offline"  # folder under _static
MATHJAX_ENTRY = "tex-mml-chtml.js"
# What MathJax's tex-mml-chtml component loads on demand: fonts, TeX extensions, the menu's a11y tools.
MATHJAX_PARTS = (MATHJAX_ENTRY, "input", "output/chtml", "ui", "a11y", "sre", "adaptors")
DEFAULT_HTML_MANAGER = "1.0.6"
DEFAULT_REQUIREJS = "2.3.4"


def cache_dir() -> Path:
    """Where npm packages are unpacked once and reused by later builds."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "gqa-mup-book"


def mathjax_source() -> Path:
    """MathJax's ``es5`` folder inside the installed ``django-static-mathjax`` package."""
    import importlib.util

    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the Python package django-static-mathjax is not installed; "
                                'install the book extra: python -m pip install -e ".[book]"')
    es5 = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "es5"
    if not (es5 / MATHJAX_ENTRY).is_file():
        raise FileNotFoundError(f"{es5 / MATHJAX_ENTRY} is missing; reinstall django-static-mathjax")
    return es5


def cdn_versions(ipywidgets_js: dict) -> tuple[str, str]:
    """The html-manager and require.js versions of myst-nb's CDN defaults (so offline == online)."""
    urls = " ".join(ipywidgets_js)
    manager = re.search(r"html-manager@([\d.]+)", urls)
    requirejs = re.search(r"require\.js/([\d.]+)/", urls)
    return (manager.group(1) if manager else DEFAULT_HTML_MANAGER,
            requirejs.group(1) if requirejs else DEFAULT_REQUIREJS)


def npm_package(name: str, version: str, cache: Path | None = None) -> Path:
    """The unpacked npm package ``name@version`` (its ``package`` folder), fetched once with ``npm pack``."""
    cache = cache or cache_dir()
    target = cache / "npm" / f"{name.replace('/', '+')}@{version}"
    if (target / "package" / "package.json").is_file():
        return target / "package"
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError(f"npm is not installed, so {name}@{version} cannot be fetched for offline "
                                "reading; install Node.js (which brings npm) and build again")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        result = subprocess.run([npm, "pack", f"{name}@{version}", "--silent"], cwd=tmp,
                                capture_output=True, text=True, timeout=300)
        tarballs = list(Path(tmp).glob("*.tgz"))
        if result.returncode != 0 or not tarballs:
            raise FileNotFoundError(f"npm pack {name}@{version} failed: {result.stderr.strip()[-500:]}")
        unpacked = Path(tmp) / "unpacked"
        with tarfile.open(tarballs[0]) as archive:
            if hasattr(tarfile, "data_filter"):
                archive.extractall(unpacked, filter="data")
            else:  # Python < 3.10.12 / 3.11.4
                archive.extractall(unpacked)  # noqa: S202 - a registry tarball checked by npm
        if target.exists():  # another build got there first
            shutil.rmtree(unpacked)
        else:
            unpacked.rename(target)
    return target / "package"


def copy_assets(static: Path, ipywidgets_js: dict) -> dict[str, str]:
    """Copy MathJax, the widget manager and require.js under ``static/offline``; return their paths."""
    out = static / OFFLINE
    es5 = mathjax_source()
    for part in MATHJAX_PARTS:
        source = es5 / part
        if source.is_dir():
            shutil.copytree(source, out / "mathjax" / part, dirs_exist_ok=True)
        elif source.is_file():
            (out / "mathjax").mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, out / "mathjax" / part)
    manager_version, requirejs_version = cdn_versions(ipywidgets_js)
    manager = npm_package("@jupyter-widgets/html-manager", manager_version)
    (out / "html-manager").mkdir(parents=True, exist_ok=True)
    for path in (manager / "dist").iterdir():  # the AMD bundle and the icon fonts it loads, no source maps
        if path.name == "embed-amd.js" or path.suffix in (".woff2", ".woff", ".ttf", ".eot", ".svg"):
            shutil.copy2(path, out / "html-manager" / path.name)
    requirejs = npm_package("requirejs", requirejs_version)
    (out / "requirejs").mkdir(parents=True, exist_ok=True)
    shutil.copy2(requirejs / "require.js", out / "requirejs" / "require.js")
    for script in (Path(__file__).parent / "offline_js").glob("*.js"):
        shutil.copy2(script, out / script.name)
    return {
        "mathjax2_hub": f"{OFFLINE}/mathjax2-hub.js",
        "html_manager_paths": f"{OFFLINE}/html-manager-paths.js",
        "mathjax": f"{OFFLINE}/mathjax/{MATHJAX_ENTRY}",
        "requirejs": f"{OFFLINE}/requirejs/require.js",
        "html_manager": f"{OFFLINE}/html-manager/embed-amd.js",
    }


def _config_inited(app, config):
    config.html_context = {"default_mode": "auto", **(config.html_context or {})}


def _builder_inited(app):
    if app.builder.format != "html":
        return
    from myst_nb.core.config import ipywidgets_js_factory

    cdn = app.config.nb_ipywidgets_js or ipywidgets_js_factory()
    try:
        paths = copy_assets(Path(app.outdir) / "_static", cdn)
    except (FileNotFoundError, OSError, subprocess.SubprocessError) as error:
        logger.warning(f"offline assets: {error}; the pages would load them from public CDNs")
        return
    app.config.mathjax_path = paths["mathjax"]
    app.add_js_file(f"{OFFLINE}/fit-equations.js", defer="defer")
    # Same attributes as myst-nb's CDN entries, minus the CDN's integrity hash; widgets from packages other
    # than the built-in ones are still looked up on the CDN named by data-jupyter-widgets-cdn.
    manager_attributes = next((attrs for url, attrs in cdn.items() if "html-manager" in url), {})
    app.config.nb_ipywidgets_js = {
        paths["mathjax2_hub"]: {},  # before MathJax 3 loads (it is deferred): see offline_js/mathjax2-hub.js
        paths["requirejs"]: {},
        paths["html_manager_paths"]: {},
        paths["html_manager"]: {key: value for key, value in manager_attributes.items()
                                if key not in ("integrity", "crossorigin")},
    }
    if hasattr(app.env, "mystnb_config"):  # myst-nb read the config already
        app.env.mystnb_config = app.env.mystnb_config.copy(ipywidgets_js=app.config.nb_ipywidgets_js)


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    """Drop scripts registered twice (same file or same inline body, same attributes)."""
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, unique = set(), []
    for script in scripts:
        key = (getattr(script, "filename", str(script)) or "",  # inline scripts: None or ""
               tuple(sorted((getattr(script, "attributes", None) or {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("config-inited", _config_inited)
    # after myst-nb's own builder-inited handler (priority 500), which reads nb_ipywidgets_js
    app.connect("builder-inited", _builder_inited, priority=600)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

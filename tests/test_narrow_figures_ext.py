"""book/_ext/narrow_figures.py: each page PNG split into its desktop and phone PNGs, and each ``<img>`` of it
wrapped in a ``<picture>`` that serves the phone PNG to narrow screens; and the browser check's rule that a
phone shows every chapter figure's phone version, with its text at 9 px or more."""

import importlib.util
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

from gqa_mup_ref import page_figures as pf  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import narrow_figures as ext  # noqa: E402


def _module(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def images(tmp_path):
    """An _images folder with a two-panel page PNG (with a phone version) and a plain PNG (without)."""
    fig, axes = plt.subplots(1, 2, figsize=(6.7, 2.6), layout="constrained")
    for ax in axes:
        ax.plot([1, 2, 3])
        ax.set_xlabel("step")
    png, _ = pf.page_png(fig)
    plain, _ = pf.page_png(fig, narrow=False)
    plt.close(fig)
    folder = tmp_path / "_images"
    folder.mkdir()
    (folder / "abc123.png").write_bytes(png)
    (folder / "plain.png").write_bytes(plain)
    return folder, png


def test_split_images_writes_the_phone_png_beside_the_desktop_one_and_is_idempotent(images):
    folder, png = images
    assert ext.split_images(folder) == {"abc123"}
    wide, narrow = pf.split_narrow(png)
    assert (folder / "abc123.png").read_bytes() == wide  # a desktop downloads no more than before
    assert (folder / "abc123.narrow.png").read_bytes() == narrow
    assert not (folder / "plain.narrow.png").exists()
    assert ext.split_images(folder) == {"abc123"}  # a second build finds it split already
    assert (folder / "abc123.png").read_bytes() == wide


def test_wrap_images_serves_the_phone_png_to_narrow_screens_only_for_split_pngs():
    html = ('<p><a href="../_images/abc123.png"><img alt="two panels" src="../_images/abc123.png" '
            'style="width: 682px;" /></a><img alt="x" src="../_images/plain.png" /></p>')
    wrapped, count = ext.wrap_images(html, {"abc123"}, 719)
    assert count == 1
    assert ('<picture class="narrow-figure"><source media="(max-width: 719px)" '
            'srcset="../_images/abc123.narrow.png 2x"><img alt="two panels"') in wrapped
    assert '<img alt="x" src="../_images/plain.png" />' in wrapped and wrapped.count("<picture") == 1
    again, count_again = ext.wrap_images(wrapped, {"abc123"}, 719)
    assert again == wrapped and count_again == 1  # a page wrapped by an earlier build is not wrapped twice


def test_the_phone_check_wants_every_chapter_figure_stacked_and_legible(images):
    folder, _ = images
    ext.split_images(folder)
    checker = _module(ROOT / "scripts" / "check_book_in_browser.py")
    narrow = folder / "abc123.narrow.png"
    record = pf.smallest_text_px(narrow.read_bytes())
    image_px = Image.open(narrow).width
    # the browser's naturalWidth of a "2x" srcset image is half the PNG's pixels: the check must not use it
    shown = {"src": narrow.as_uri(), "natural": image_px / 2, "rendered": image_px / 2, "alt": "two panels",
             "narrow": True, "inWidget": False}
    assert checker.phone_figure_problems([shown]) == []  # drawn at its natural size: record / 2 px
    small = shown | {"rendered": image_px * 8.5 / record}  # drawn so its smallest text is 8.5 CSS px
    assert "smallest text 8.5 px" in checker.phone_figure_problems([small])[0]
    desktop_only = shown | {"src": (folder / "plain.png").as_uri(), "narrow": False}
    assert "no phone version" in checker.phone_figure_problems([desktop_only])[0]
    assert checker.phone_figure_problems([desktop_only | {"inWidget": True}]) == []  # a slider's view

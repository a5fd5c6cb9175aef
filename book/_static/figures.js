// Figures open at full size on a tap.
//
// A figure is drawn for the desktop text column (672 CSS px; gqa_mup_ref.page_figures), so on a phone it is
// shown at about half its size. Each figure of a chapter (not a slider's view) is a link to its own PNG (Sphinx
// links a glued figure already; a figure shown by a cell gets one), which the phone's browser shows alone and
// lets the reader zoom; a line under the figure says so on narrow screens (book.css hides it on wide ones).
(function () {
  "use strict";
  var HINT = "tap the figure to open it at full size";

  function linkFigure(img) {
    if (img.closest(".widget-html-content, .jupyter-widgets") || img.dataset.fullSize) return;
    img.dataset.fullSize = "linked";
    var link = img.closest("a");  // Sphinx links a {figure} to its PNG already
    if (!link) {
      // a figure with a phone version sits in a <picture> (book/_ext/narrow_figures.py), whose <img> must
      // stay its direct child: the link then wraps the whole <picture>
      var target = img.parentNode.tagName === "PICTURE" ? img.parentNode : img;
      link = document.createElement("a");
      link.href = img.getAttribute("src");
      link.className = "figure-full-size";
      target.parentNode.insertBefore(link, target);
      link.appendChild(target);
    }
    link.setAttribute("aria-label", "open the figure at full size");
    var hint = document.createElement("div");
    hint.className = "figure-hint";
    hint.textContent = HINT;
    link.parentNode.insertBefore(hint, link.nextSibling);
  }

  function run() {
    document.querySelectorAll("article figure img, article .cell_output img").forEach(linkFigure);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
  else run();
})();

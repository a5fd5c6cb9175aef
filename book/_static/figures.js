// Figures open at full size on a tap.
//
// A figure is drawn for the desktop text column (672 CSS px; gqa_mup_ref.page_figures), so on a phone it is
// shown at about half its size. Each figure of a chapter (a glued figure, not a slider's view) becomes a link
// to its own PNG, which the phone's browser shows alone and lets the reader zoom; a line under the figure
// says so on narrow screens (book.css hides it on wide ones).
(function () {
  "use strict";
  var HINT = "tap the figure to open it at full size";

  function linkFigure(img) {
    if (img.closest("a") || img.closest(".widget-html-content, .jupyter-widgets")) return;
    var link = document.createElement("a");
    link.href = img.getAttribute("src");
    link.className = "figure-full-size";
    link.setAttribute("aria-label", "open the figure at full size");
    img.parentNode.insertBefore(link, img);
    link.appendChild(img);
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

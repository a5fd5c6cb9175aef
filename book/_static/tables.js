// Tables that are wider than the page scroll sideways in their own box, and say so.
//
// * Every table (a rule table, a table inside a slider's view) sits in a box that scrolls sideways when the
//   table is wider than the text column; such a box gets a shadow on the side where columns are hidden and a
//   "scroll sideways" line under it, so a reader on a phone knows the last columns are there.
// * A printed output whose lines are table rows (class "output-table") keeps each row on one line and scrolls
//   sideways like a table, with the same cue; its other lines (a sentence before or after the table) still
//   wrap at the edge of the box. Other printed outputs wrap their long lines like prose (book.css).
//
// * A cell of a rendered table that shows a number ("1.09 ± 0.08", "[-4.23, +1.07]", "p = 0.013") never breaks
//   over two lines (class "number-cell", book.css), and a cell of longer text keeps a useful width instead of
//   shrinking to one word a line beside them (class "text-cell"); scripts/check_book_in_browser.py checks the
//   first at both widths with the same pattern.
//
// A line is a table row when it has a gap of two or more spaces between two words, a " | " column separator,
// or is a rule of dashes ("----  -----"); a printed output with at least two such lines is a table.
(function () {
  "use strict";
  var ROW = /\S {2,}\S|\s\|\s|^\s*-{2,}(\s+-{2,})+\s*$/;
  var HINT = "scroll sideways for more \u2192";
  var NUMBER = /^[\s\d.,:;%+\-\u2212\u2013\u00b1\u00d7\u2248~<>\u2264\u2265=()\[\]ep]*\d[\s\d.,:;%+\-\u2212\u2013\u00b1\u00d7\u2248~<>\u2264\u2265=()\[\]ep]*$/;

  function markCells(table) {
    table.querySelectorAll("td, th").forEach(function (cell) {
      var text = cell.textContent.trim();
      if (NUMBER.test(text)) cell.classList.add("number-cell");
      else if (text.length > 16) cell.classList.add("text-cell");
    });
  }

  function isTableRow(line) {
    return ROW.test(line);
  }

  // Mark a printed output as a table; wrap its other lines in spans that may wrap (book.css).
  function layoutPrintedOutput(pre) {
    if (pre.dataset.layout) return;
    var lines = pre.textContent.split("\n");
    if (lines.filter(isTableRow).length < 2) {
      pre.dataset.layout = "prose";
      return;
    }
    pre.dataset.layout = "table";
    pre.classList.add("output-table");
    // Only plain text is rebuilt (Pygments leaves an empty <span> first); coloured output keeps its markup.
    var plain = Array.prototype.every.call(pre.children, function (child) { return !child.textContent; });
    if (!plain) return;
    var rebuilt = document.createDocumentFragment();
    lines.forEach(function (line, index) {
      if (index) rebuilt.appendChild(document.createTextNode("\n"));
      if (!line || isTableRow(line)) {
        rebuilt.appendChild(document.createTextNode(line));
      } else {
        var prose = document.createElement("span");
        prose.className = "output-prose";
        prose.textContent = line;
        rebuilt.appendChild(prose);
      }
    });
    pre.textContent = "";
    pre.appendChild(rebuilt);
  }

  // The box that scrolls a table: the theme's table container, or a new one around the table.
  function scrollBoxOf(table) {
    var parent = table.parentElement;
    if (parent.classList.contains("pst-scrollable-table-container") || parent.classList.contains("table-scroll")) {
      return parent;
    }
    var box = document.createElement("div");
    box.className = "table-scroll";
    parent.insertBefore(box, table);
    box.appendChild(table);
    return box;
  }

  function update(cue) {
    var box = cue.firstElementChild;
    var more = box.scrollWidth > box.clientWidth + 1;
    cue.classList.toggle("has-more", more);
    cue.classList.toggle("at-start", box.scrollLeft <= 1);
    cue.classList.toggle("at-end", box.scrollLeft + box.clientWidth >= box.scrollWidth - 1);
  }

  var resizes = window.ResizeObserver ? new ResizeObserver(function (entries) {
    entries.forEach(function (entry) {
      var cue = entry.target.closest(".scroll-cue");
      if (cue) update(cue);
    });
  }) : null;

  function addCue(box) {
    if (box.parentElement.classList.contains("scroll-cue")) return;
    var cue = document.createElement("div");
    cue.className = "scroll-cue";
    box.parentElement.insertBefore(cue, box);
    cue.appendChild(box);
    var hint = document.createElement("div");
    hint.className = "scroll-cue-hint";
    hint.setAttribute("aria-hidden", "true");
    hint.textContent = HINT;
    cue.appendChild(hint);
    box.addEventListener("scroll", function () { update(cue); }, { passive: true });
    if (resizes) {
      resizes.observe(box);
      if (box.firstElementChild) resizes.observe(box.firstElementChild);
    }
    update(cue);
  }

  function scan() {
    var article = document.querySelector("article") || document.body;
    article.querySelectorAll(".cell_output pre").forEach(function (pre) {
      layoutPrintedOutput(pre);
      if (pre.classList.contains("output-table")) addCue(pre);
    });
    article.querySelectorAll("table").forEach(function (table) {
      if (table.closest(".highlight, .scroll-cue-hint")) return;
      markCells(table);
      addCue(scrollBoxOf(table));
    });
  }

  function updateAll() {
    document.querySelectorAll(".scroll-cue").forEach(update);
  }

  function start() {
    scan();
    // Widget views are drawn after the page loads: give their tables a box too.
    var pending = null;
    new MutationObserver(function () {
      if (pending === null) pending = setTimeout(function () { pending = null; scan(); }, 100);
    }).observe(document.querySelector("article") || document.body, { childList: true, subtree: true });
    var mathjax = window.MathJax;
    if (mathjax && mathjax.startup && mathjax.startup.promise) mathjax.startup.promise.then(updateAll);
    window.addEventListener("load", updateAll);
    window.addEventListener("resize", updateAll);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

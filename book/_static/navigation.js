// The ☰ (site navigation) and ☷ (contents of this page) buttons work on every screen.
//
// A page has two buttons of each kind: one in the top bar, which sphinx-book-theme hides, and one in the
// article's header, which is the one a reader sees. The themes (pydata-sphinx-theme 0.17, sphinx-book-theme
// 1.3) attach their click handlers to the first button of each kind only, the hidden one, so below the
// desktop width the visible buttons showed a tooltip and nothing else. Here a click on any other button of a
// kind is passed on to the first one, so the themes' own code opens the drawer (phone, tablet) or hides the
// sidebar (desktop), exactly as it would for the button it knows.
(function () {
  "use strict";
  var KINDS = [".primary-toggle", ".secondary-toggle"];
  document.addEventListener("click", function (event) {
    if (!event.target || !event.target.closest) return;
    KINDS.forEach(function (kind) {
      var pressed = event.target.closest(kind);
      var handled = document.querySelector(kind);
      if (!pressed || !handled || pressed === handled) return;
      event.preventDefault();
      event.stopPropagation();
      pressed.blur();
      handled.click();
    });
  }, true);
})();

// A display equation wider than the text column is scaled down to fit (to no less than 65 % of its size);
// one that still does not fit scrolls inside its own box (book.css), never the page.
(function () {
  var SMALLEST = 0.65;
  function fit() {
    document.querySelectorAll('mjx-container[display="true"]').forEach(function (container) {
      container.style.fontSize = "";
      var math = container.firstElementChild;
      if (!math) return;
      var need = math.getBoundingClientRect().width;
      var room = container.clientWidth;
      if (need > room + 1) {
        container.style.fontSize = (100 * Math.max(SMALLEST, (room / need) * 0.98)).toFixed(1) + "%";
      }
    });
  }
  function start() {
    var mathjax = window.MathJax;
    if (mathjax && mathjax.startup && mathjax.startup.promise) mathjax.startup.promise.then(fit);
  }
  window.addEventListener("load", start);
  window.addEventListener("resize", fit);
})();

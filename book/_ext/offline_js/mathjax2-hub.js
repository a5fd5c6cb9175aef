// The Jupyter widget manager (html-manager 1.x) typesets the text of its views with the MathJax 2 call
// MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]); the book loads MathJax 3, which has no Hub, so
// without this every page with widgets throws "Cannot read properties of undefined (reading 'Queue')".
// This gives every object assigned to window.MathJax a hidden Hub.Queue that forwards to MathJax 3.
(function () {
  function typeset(element) {
    var mathjax = window.MathJax;
    if (mathjax && mathjax.startup && mathjax.startup.promise && mathjax.typesetPromise) {
      mathjax.startup.promise.then(function () { return mathjax.typesetPromise([element]); });
    }
  }
  function withHub(value) {
    if (value && typeof value === "object" && !value.Hub) {
      Object.defineProperty(value, "Hub", {
        configurable: true,
        enumerable: false, // invisible to MathJax 3, which reads its configuration from this object
        value: {
          Queue: function () {
            Array.prototype.forEach.call(arguments, function (job) {
              if (Array.isArray(job) && job[0] === "Typeset" && job[2]) typeset(job[2]);
            });
          },
        },
      });
    }
    return value;
  }
  var current = withHub(window.MathJax);
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    get: function () { return current; },
    set: function (value) { current = withHub(value); },
  });
})();

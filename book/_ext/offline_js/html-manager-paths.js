// The widget manager finds its icon fonts next to the module "@jupyter-widgets/html-manager/dist/...",
// which require.js resolves relative to the page unless told otherwise; point it at the copy shipped
// with the book (this file's own folder + "html-manager").
(function () {
  var here = document.currentScript.src;
  var folder = here.slice(0, here.lastIndexOf("/") + 1) + "html-manager";
  require.config({ paths: { "@jupyter-widgets/html-manager/dist": folder } });
})();

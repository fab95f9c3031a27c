// The planning wizard: after each swap of #wizard, keyboard focus stays where the person was. htmx itself gives the
// focus back to the element with the same id (a slot field, a port select, a button); when the control they used
// is gone (a link that chose a partition or a server, a form replaced by its answer), the focus goes to the heading
// of the step that is now current, never to <body> (nor to <main>, which a click on a disabled button focuses).
(function () {
  "use strict";
  function keepFocus() {
    var wizard = document.getElementById("wizard");
    if (!wizard) { return; }
    var active = document.activeElement;
    var lost = !active || !document.documentElement.contains(active) || active.contains(wizard);
    if (!lost) { return; }
    var here = wizard.querySelector("[data-focus-here]") || wizard.querySelector("h2");
    if (here) { here.focus({preventScroll: false}); }
  }
  document.addEventListener("htmx:afterSettle", keepFocus);
  document.addEventListener("htmx:historyRestore", keepFocus);
})();

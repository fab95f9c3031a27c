// Batch pages: every <time class="local"> in the viewer's own time zone (the server writes UTC), again after each
// pushed panel; the approval form's time zone defaults to the viewer's.
(function () {
  "use strict";
  function localise(root) {
    root.querySelectorAll("time.local[datetime]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when)) {
        el.textContent = when.toLocaleString([], {dateStyle: "medium", timeStyle: "short"});
        el.title = el.getAttribute("datetime");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    localise(document);
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    document.querySelectorAll("select.tz-pick").forEach(function (select) {
      if (zone && select.querySelector('option[value="' + zone + '"]')) { select.value = zone; }
    });
  });
  document.body && document.body.addEventListener("htmx:oobAfterSwap", function (e) { localise(e.detail.target || document); });
  document.addEventListener("htmx:oobAfterSwap", function (e) { localise(e.detail.target || document); });
})();

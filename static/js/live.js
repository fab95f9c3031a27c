// Live page glue for the htmx ws extension: subscribe with the last seq seen (so a reconnect gets exactly what
// it missed), show how fresh the data is, and run the polling fallback while the socket is down. The fallback is
// an ivm:poll event fired from here: an htmx trigger filter would need eval, which the Content-Security-Policy forbids.
(function () {
  "use strict";
  var root = document.getElementById("live") || document.getElementById("dashboard");
  if (!root) { return; }
  var migration = root.dataset.migration ? parseInt(root.dataset.migration, 10) : null;
  var up = false, lastUpdate = Date.now();
  var QUIET_MS = 5000;  // a socket that says nothing this long on a running migration may be cut off upstream

  function lastSeq() {
    var rows = document.querySelectorAll("#live-events-" + migration + " [data-seq]"), max = 0;
    rows.forEach(function (el) { max = Math.max(max, parseInt(el.dataset.seq, 10) || 0); });
    return max;
  }
  function showFreshness() {
    var el = document.getElementById("freshness");
    if (!el) { return; }
    var age = Math.round((Date.now() - lastUpdate) / 1000);
    el.textContent = (up ? "Live" : "Socket down: refreshing every 2 s") + " — last update " + age + " s ago";
    el.dataset.live = up ? "1" : "0";
  }
  function running() {
    var state = document.querySelector(".live-state");
    return state && state.dataset.moving === "1";  // the server says whether the migration is under way
  }
  // The polling fallback runs while the socket is down, or quiet for too long while the migration moves.
  function down() { return !up || (running() && Date.now() - lastUpdate > QUIET_MS); }
  var poll = document.getElementById("live-poll");
  if (poll) { setInterval(function () { if (down()) { htmx.trigger(poll, "ivm:poll"); } }, 2000); }

  document.body.addEventListener("htmx:wsOpen", function (evt) {
    up = true;
    var msg = migration ? { subscribe: migration, last_seq: lastSeq() } : { dashboard: true };
    evt.detail.socketWrapper.send(JSON.stringify(msg), root);
    showFreshness();
  });
  document.body.addEventListener("htmx:wsClose", function () { up = false; showFreshness(); });
  document.body.addEventListener("htmx:wsAfterMessage", function () { lastUpdate = Date.now(); showFreshness(); });
  document.body.addEventListener("htmx:afterSwap", function () { lastUpdate = Date.now(); showFreshness(); });
  setInterval(showFreshness, 1000);
})();

// Live updates for the inbox pages (server-sent events). No framework: a queue page swaps its rows in,
// a conversation page reloads when the conversation changed and nothing is being typed.
(function () {
  "use strict";
  var body = document.body;
  var live = body.getAttribute("data-live");
  if (!live || !window.EventSource) { return; }
  var conv = body.getAttribute("data-conv");
  var url = "/inbox/eventos" + (conv ? "?c=" + encodeURIComponent(conv) : "");
  var status = document.getElementById("live-status");
  var source = new EventSource(url);
  var busy = false;

  function refreshRows() {
    if (busy) { return; }
    busy = true;
    fetch(body.getAttribute("data-rows"), { credentials: "same-origin", headers: { "accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null) { document.getElementById("queue-rows").innerHTML = html; }
        if (status) { status.textContent = "Actualizado " + new Date().toLocaleTimeString("es-MX"); }
      })
      .finally(function () { busy = false; });
  }

  function typing() {
    var areas = document.querySelectorAll("textarea, input:not([type=hidden])");
    for (var i = 0; i < areas.length; i++) {
      if (areas[i].value && areas[i].value.trim()) { return true; }
    }
    return false;
  }

  var pending = false;
  function refreshConversation() {
    if (live !== "conv") { return; }
    if (typing() || document.getElementById("held")) { pending = true; return; }
    window.location.replace(window.location.pathname);
  }

  source.addEventListener("queue", function () { if (live === "queue") { refreshRows(); } });
  source.addEventListener("conv", function () { if (live === "conv") { refreshConversation(); } });
  source.onerror = function () { if (status) { status.textContent = "Reconectando…"; } };
  source.onopen = function () { if (status) { status.textContent = "Actualización en vivo"; } };
  document.addEventListener("input", function () {
    if (pending && !typing()) { pending = false; refreshConversation(); }
  });
  // a form being sent: this page is about to be replaced by the answer; a live reload must not race it
  document.addEventListener("submit", function () { source.close(); pending = false; live = null; });
  window.addEventListener("pagehide", function () { source.close(); });
}());

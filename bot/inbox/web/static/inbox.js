// Live updates for the inbox pages (server-sent events). No framework: a queue page swaps its rows in,
// a conversation page reloads when the conversation changed and nothing is being typed.
(function () {
  "use strict";
  // forms that ask first (cancel an appointment, delete a canned response)
  document.addEventListener("submit", function (e) {
    var ask = e.target.getAttribute && e.target.getAttribute("data-confirm");
    if (ask && !window.confirm(ask)) { e.preventDefault(); e.stopImmediatePropagation(); }
  }, true);
  // a canned response goes into the reply box at the cursor (without JS the form reloads the page with it)
  var canned = document.getElementById("canned-form");
  var box = document.getElementById("texto");
  if (canned && box) {
    var touched = false;  // the caret means something only once the person has been in the box
    box.addEventListener("focus", function () { touched = true; });
    canned.addEventListener("submit", function (e) {
      var option = canned.querySelector("select").selectedOptions[0];
      if (!option) { return; }
      e.preventDefault();
      e.stopImmediatePropagation();
      var text = option.getAttribute("data-body") || "";
      var at = touched ? box.selectionStart : box.value.length;
      var end = touched ? box.selectionEnd : box.value.length;
      if (at > 0 && !/\s$/.test(box.value.slice(0, at))) { text = " " + text; }
      box.value = box.value.slice(0, at) + text + box.value.slice(end);
      box.focus();
      box.setSelectionRange(at + text.length, at + text.length);
      box.dispatchEvent(new Event("input", { bubbles: true }));
    }, true);
  }
})();
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

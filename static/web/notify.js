/* The header bell: unread count over /ws/notifications/ (frames `unread`, `notification`), and a
   panel listing the latest notifications from the REST API, each linking to its case. */
(function () {
  "use strict";
  var btn = document.getElementById("notif-btn");
  if (!btn) return;
  var badge = document.getElementById("notif"), count = document.getElementById("notif-count");
  var panel = document.getElementById("notif-panel"), list = document.getElementById("notif-list");
  var empty = document.getElementById("notif-empty"), readAll = document.getElementById("notif-read-all");
  var csrf = (document.querySelector("meta[name=csrf-token]") || {}).content;
  function show(n) { count.textContent = n; badge.hidden = !(n > 0); }
  function when(iso) { try { return new Date(iso).toLocaleString(document.documentElement.lang, {day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit"}); } catch (e) { return ""; } }
  function item(n) {
    var li = document.createElement("li"); if (!n.read) li.className = "unread-item";
    var a = document.createElement(n.url ? "a" : "span"); if (n.url) a.href = n.url;
    var title = document.createElement("strong"); title.textContent = n.title || "";
    var body = document.createElement("span"); body.textContent = n.body || "";
    var time = document.createElement("span"); time.className = "muted small"; time.textContent = when(n.created_at);
    a.appendChild(title); a.appendChild(document.createElement("br")); a.appendChild(body);
    a.appendChild(document.createElement("br")); a.appendChild(time);
    li.appendChild(a); return li;
  }
  function load() {
    fetch(btn.getAttribute("data-list"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        var rows = data.results || data || [];
        list.innerHTML = "";
        rows.slice(0, 20).forEach(function (n) { list.appendChild(item(n)); });
        empty.hidden = rows.length > 0;
      }).catch(function () {});
  }
  btn.addEventListener("click", function () {
    var open = panel.hidden;
    panel.hidden = !open; btn.setAttribute("aria-expanded", String(open));
    if (open) load();
  });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape" && !panel.hidden) { panel.hidden = true; btn.setAttribute("aria-expanded", "false"); btn.focus(); } });
  readAll.addEventListener("click", function () {
    fetch(btn.getAttribute("data-read-all"), {method: "POST", credentials: "same-origin",
      headers: {"X-CSRFToken": csrf || "", "Accept": "application/json"}})
      .then(function () { show(0); load(); }).catch(function () {});
  });

  if (!window.WebSocket) return;
  var scheme = location.protocol === "https:" ? "wss://" : "ws://";
  var tries = 0;
  function connect() {
    var ws;
    try { ws = new WebSocket(scheme + location.host + "/ws/notifications/"); } catch (e) { return; }
    ws.onopen = function () { tries = 0; };
    ws.onmessage = function (ev) {
      var f; try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f.type === "unread") show(f.count);
      if (f.type === "notification") {
        show(f.unread);
        if (!panel.hidden && f.notification) { empty.hidden = true; list.insertBefore(item(f.notification), list.firstChild); }
      }
    };
    ws.onclose = function (ev) {
      if (ev.code === 4401 || ev.code === 4403 || tries > 5) return;
      tries += 1; setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, tries)));
    };
  }
  connect();
})();

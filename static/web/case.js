/* Case page: the chat (WebSocket, resumable by sequence number) and live refresh of the case
   header when the server says the case moved (a `case` frame). Protocol: docs/web.md. */
(function () {
  "use strict";
  var live = document.getElementById("case-live");
  var chat = document.getElementById("chat");
  var t = {};
  try { t = JSON.parse(document.getElementById("chat-i18n").textContent); } catch (e) { /* none */ }

  // --- live case header ----------------------------------------------------------------------
  var refreshing = null;
  function refreshCase() {
    if (!live || refreshing) return;
    // Do not throw away a form the person is filling in.
    var editing = live.querySelector("details[open] form");
    if (editing && editing.querySelector("textarea:focus, input:focus, select:focus")) return;
    refreshing = fetch(live.getAttribute("data-live-url"), {credentials: "same-origin",
      headers: {"X-Requested-With": "fetch"}})
      .then(function (r) { return (r.ok && !r.redirected) ? r.text() : null; })
      .then(function (html) { if (html) { live.innerHTML = html; live.setAttribute("data-refreshed", Date.now()); } })
      .catch(function () {})
      .then(function () { refreshing = null; });
  }
  window.odrRefreshCase = refreshCase;

  if (!chat || !window.WebSocket) return;

  // --- chat ------------------------------------------------------------------------------------
  var log = document.getElementById("chat-log");
  var status = document.getElementById("chat-status");
  var form = document.getElementById("chat-form");
  var body = document.getElementById("chat-body");
  var audience = document.getElementById("chat-audience");
  var typingEl = document.getElementById("chat-typing");
  var presenceEl = document.getElementById("chat-presence");
  var me = parseInt(chat.getAttribute("data-user"), 10);
  var staff = chat.getAttribute("data-mediator") === "1";
  var lastSeq = 0, ws = null, tries = 0, closed = false, seen = {}, typingTimer = null, lastTyping = 0;
  var pending = {};

  function setStatus(text, bad) { status.textContent = text || ""; status.className = "chat-status muted" + (bad ? " error" : ""); }
  function fmtTime(iso) { try { var d = new Date(iso); return d.toLocaleString(document.documentElement.lang, {day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit"}); } catch (e) { return ""; } }
  function roleName(r) { return t[r] || r || ""; }

  function render(m) {
    if (!m || typeof m.seq !== "number") return;
    if (m.client_id && pending[m.client_id]) { pending[m.client_id].remove(); delete pending[m.client_id]; }
    var li = seen[m.seq] || document.createElement("li");
    li.className = "";
    li.setAttribute("data-seq", m.seq);
    var mine = m.author && m.author.id === me;
    if (m.kind === "system") li.classList.add("system");
    if (mine) li.classList.add("mine");
    if (m.audience && m.audience !== "all") li.classList.add("caucus");
    if (m.pinned) li.classList.add("pinned");
    li.innerHTML = "";
    var meta = document.createElement("span"); meta.className = "meta";
    var who = m.kind === "system" ? t.system : (mine ? t.you : ((m.author && m.author.name) || "") + " · " + roleName(m.author_role));
    meta.textContent = who + " · " + fmtTime(m.created_at) + (m.audience && m.audience !== "all" ? " · 🔒 " + t["private"] + " (" + roleName(m.audience) + ")" : "") + (m.pinned ? " · 📌 " + t.pinned : "");
    var text = document.createElement("span"); text.className = "body";
    text.textContent = m.redacted ? "(" + t.redacted + ")" + (m.original_body ? " " + m.original_body : "") : (m.body || "");
    li.appendChild(meta); li.appendChild(text);
    if (m.evidence && (m.evidence.download_url || m.evidence.url)) {
      var a = document.createElement("a"); a.href = m.evidence.download_url || m.evidence.url; a.textContent = "📎 " + (m.evidence.name || ""); a.target = "_blank"; a.rel = "noopener";
      li.appendChild(document.createElement("br")); li.appendChild(a);
    }
    if (staff && m.kind !== "system") {
      var tools = document.createElement("span"); tools.className = "msg-tools";
      var pin = document.createElement("button"); pin.type = "button"; pin.className = "link";
      pin.textContent = m.pinned ? t.unpin : t.pin;
      pin.addEventListener("click", function () { send({type: m.pinned ? "unpin" : "pin", seq: m.seq}); m.pinned = !m.pinned; pin.textContent = m.pinned ? t.unpin : t.pin; });
      tools.appendChild(pin);
      if (!m.redacted) {
        var red = document.createElement("button"); red.type = "button"; red.className = "link";
        red.textContent = t.redact;
        red.addEventListener("click", function () { var why = window.prompt(t.redact_q); if (why) send({type: "redact", seq: m.seq, reason: why}); });
        tools.appendChild(red);
      }
      li.appendChild(tools);
    }
    if (!seen[m.seq]) {
      seen[m.seq] = li;
      // keep order by seq
      var after = null;
      Array.prototype.some.call(log.children, function (c) { var s = parseInt(c.getAttribute("data-seq"), 10); if (s > m.seq) { after = c; return true; } return false; });
      log.insertBefore(li, after);
    }
    if (m.seq > lastSeq) lastSeq = m.seq;
    log.scrollTop = log.scrollHeight;
  }

  function send(frame) { if (ws && ws.readyState === 1) { ws.send(JSON.stringify(frame)); return true; } return false; }

  function connect() {
    if (closed) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    try { ws = new WebSocket(scheme + location.host + chat.getAttribute("data-ws") + "?since=" + lastSeq); }
    catch (e) { setStatus(t.unavailable, true); return; }
    ws.onopen = function () { tries = 0; setStatus(t.connected); chat.setAttribute("data-connected", "1"); };
    ws.onmessage = function (ev) {
      var f; try { f = JSON.parse(ev.data); } catch (e) { return; }
      switch (f.type) {
        case "history": (f.messages || []).forEach(render); if (f.last_seq > lastSeq) lastSeq = f.last_seq; break;
        case "message": render(f.message); typingEl.textContent = "";
          if (f.message && f.message.seq && document.visibilityState === "visible") send({type: "read", seq: f.message.seq});
          break;
        case "typing": if (f.user !== me) { typingEl.textContent = (f.name || roleName(f.role) || "") + " " + t.typing;
          clearTimeout(typingTimer); typingTimer = setTimeout(function () { typingEl.textContent = ""; }, 4000); } break;
        case "presence": presenceEl.textContent = (f.online && f.online.length) ? "· " + t.online + " " + f.online.map(function (p) { return p.name + " (" + roleName(p.role) + ")"; }).join(", ") : ""; break;
        case "pinned": case "unpinned": case "redacted":
          var li = seen[f.seq]; if (li) { if (f.type === "redacted") li.querySelector(".body").textContent = "(" + t.redacted + ")"; else li.classList.toggle("pinned", f.type === "pinned"); } break;
        case "case": setStatus(t.updated); refreshCase(); break;
        case "chat_closed": closed = true; setStatus(t.closed); form.querySelector("button").disabled = true; break;
        case "error": setStatus(f.message || f.code, true); break;
      }
    };
    ws.onclose = function (ev) {
      chat.removeAttribute("data-connected");
      if (closed) return;
      if (ev.code === 4401 || ev.code === 4403 || ev.code === 4404) { setStatus(t.unavailable, true); return; }
      tries += 1;
      if (tries > 6) { setStatus(t.unavailable, true); return; }
      setStatus(tries > 1 ? t.unavailable : t.reconnecting, tries > 1);
      // Full jitter: after a server restart or a network blip, every open page reconnects;
      // spread over the back-off window they do not all knock at the same instant.
      var backoff = Math.min(15000, 500 * Math.pow(2, tries));
      setTimeout(connect, 250 + Math.random() * backoff);
    };
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = body.value.trim();
    if (!text) return;
    var cid = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random();
    var frame = {type: "message", body: text, audience: audience ? audience.value : "all", client_id: cid};
    if (!send(frame)) { setStatus(t.unavailable, true); return; }
    var li = document.createElement("li"); li.className = "mine pending"; li.textContent = text; li.setAttribute("data-seq", "999999999");
    pending[cid] = li; log.appendChild(li); log.scrollTop = log.scrollHeight;
    body.value = ""; body.focus();
  });
  body.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit")); return; }
    var now = Date.now(); if (now - lastTyping > 3000) { lastTyping = now; send({type: "typing"}); }
  });
  connect();
})();

/* Previews of chosen photos/videos under every file input, and (filing form) the paid amount
   of the chosen order as a hint and a ceiling for the claimed amount. */
(function () {
  "use strict";
  var i18n = {};
  var data = document.getElementById("i18n-file");
  if (data) { try { i18n = JSON.parse(data.textContent); } catch (e) { /* none */ } }
  function fmt(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, "."); }

  function previews(input) {
    var list = input.form && input.form.querySelector("ul.previews[data-for='" + input.name + "']");
    if (!list && input.id === "id_files") list = document.getElementById("previews");
    if (!list) {
      list = document.createElement("ul"); list.className = "previews"; list.setAttribute("aria-live", "polite");
      list.setAttribute("data-for", input.name);
      input.parentNode.appendChild(list);
    }
    var urls = [];
    input.addEventListener("change", function () {
      urls.forEach(URL.revokeObjectURL); urls = [];
      list.innerHTML = "";
      Array.prototype.forEach.call(input.files, function (file) {
        var li = document.createElement("li");
        var url = URL.createObjectURL(file); urls.push(url);
        var el;
        if (file.type.indexOf("image/") === 0) { el = document.createElement("img"); el.alt = file.name; }
        else if (file.type.indexOf("video/") === 0) { el = document.createElement("video"); el.muted = true; el.controls = true; }
        else { el = document.createElement("span"); el.className = "file-icon"; el.textContent = "📄"; }
        if (el.tagName !== "SPAN") el.src = url;
        li.appendChild(el);
        var cap = document.createElement("span");
        cap.textContent = file.name + " (" + Math.ceil(file.size / 1024) + " KB)";
        li.appendChild(cap);
        list.appendChild(li);
      });
    });
  }
  function bind(root) {
    Array.prototype.forEach.call(root.querySelectorAll("input[type=file]:not([data-previews])"), function (input) {
      input.setAttribute("data-previews", "1"); previews(input);
    });
  }
  bind(document);
  // the case page replaces its live part: bind the new inputs too
  var live = document.getElementById("case-live");
  if (live && window.MutationObserver) new MutationObserver(function () { bind(live); }).observe(live, {childList: true});

  var form = document.getElementById("file-form");
  if (!form) return;
  var hint = document.getElementById("paid-hint");
  var amount = form.querySelector("input[name=claimed_amount]");
  function showPaid() {
    var chosen = form.querySelector("input[name=order]:checked");
    if (!chosen || !hint) return;
    var paid = chosen.getAttribute("data-paid");
    hint.textContent = (i18n.paid || "{amount}").replace("{amount}", fmt(paid));
    if (amount) { amount.max = paid; if (!amount.value) amount.placeholder = fmt(paid); }
  }
  form.addEventListener("change", function (e) { if (e.target.name === "order") showPaid(); });
  showPaid();
})();

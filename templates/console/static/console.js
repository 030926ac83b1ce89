// Ward console: small progressive enhancements. Every page works without
// this script; it only makes forms harder to send twice, copies secrets,
// turns the secret notice into a modal dialog and edits multi-valued
// strings as chips.
(function () {
  "use strict";

  // A form being sent cannot be sent again: its submit buttons are
  // disabled until the next page loads. (The server also answers a
  // repeated form with the first one's outcome.)
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form.dataset.sent === "1") { ev.preventDefault(); return; }
    form.dataset.sent = "1";
    form.setAttribute("aria-busy", "true");
    setTimeout(function () {
      form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (b) { b.disabled = true; });
    }, 0);
  });
  // Coming back with the browser's Back button shows the page as it was:
  // let its forms be sent again (the server still deduplicates).
  window.addEventListener("pageshow", function (ev) {
    if (!ev.persisted) return;
    document.querySelectorAll("form[data-sent]").forEach(function (f) {
      delete f.dataset.sent;
      f.removeAttribute("aria-busy");
      f.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
    });
  });

  // Copy buttons: data-copy names the element whose text is copied.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-copy]");
    if (!btn) return;
    var src = document.getElementById(btn.dataset.copy);
    if (!src) return;
    var text = src.textContent.trim();
    var done = function () {
      var status = document.getElementById(btn.dataset.copy + "-status");
      if (status) status.textContent = "Copied to the clipboard.";
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { selectText(src); });
    } else {
      selectText(src);
    }
  });
  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  // A dialog rendered open (the secret shown once) becomes modal, so the
  // page behind it cannot be used until it is acknowledged.
  document.querySelectorAll("dialog[open][data-modal]").forEach(function (d) {
    if (typeof d.showModal !== "function") return;
    d.close();
    d.showModal();
  });

  // Chips: a .chips box holds one hidden input per value and a text input
  // for the next; Enter or a comma turns the typed text into a chip.
  document.querySelectorAll(".chips[data-name]").forEach(function (box) {
    var name = box.dataset.name;
    var input = box.querySelector("input[type=text]");
    if (!input) return;
    function add(value) {
      value = value.trim();
      if (!value) return;
      var exists = Array.prototype.some.call(box.querySelectorAll("input[type=hidden]"), function (h) { return h.value === value; });
      if (exists) return;
      var chip = document.createElement("span");
      chip.className = "chip";
      var label = document.createElement("span");
      label.textContent = value;
      var hidden = document.createElement("input");
      hidden.type = "hidden"; hidden.name = name; hidden.value = value;
      var remove = document.createElement("button");
      remove.type = "button"; remove.textContent = "\u00d7";
      remove.setAttribute("aria-label", "Remove " + value);
      chip.append(label, remove, hidden);
      box.insertBefore(chip, input);
    }
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" || ev.key === ",") {
        ev.preventDefault();
        input.value.split(",").forEach(add);
        input.value = "";
      } else if (ev.key === "Backspace" && input.value === "") {
        var chips = box.querySelectorAll(".chip");
        if (chips.length) chips[chips.length - 1].remove();
      }
    });
    box.addEventListener("click", function (ev) {
      var b = ev.target.closest(".chip button");
      if (!b) return;
      var chip = b.closest(".chip");
      var next = chip.nextElementSibling;
      chip.remove();
      (next && next.querySelector("button") || input).focus();
    });
  });

  // After a refused form, focus the error summary so that screen readers
  // announce it and keyboard users start there.
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
})();

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

  // Copy buttons: data-copy names the element whose text is copied. They
  // are rendered hidden (without this script they could do nothing).
  document.querySelectorAll("button[data-copy][hidden]").forEach(function (b) { b.hidden = false; });
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
  //
  // The server renders the values a page starts with as ticked checkboxes
  // with a <label>, so that a value can be dropped without script. Those
  // are turned here into the very chips this script builds: with a
  // checkbox left hidden under its label, a click on a chip's text would
  // untick it, and the chip would still show a value that is not sent.
  // Now what is shown is what is sent, and only the × button removes.
  //
  // Every change a key press or a click makes is said in the box's status
  // (role=status, aria-live=polite) so that it is not silent: "news
  // added", "news removed", "news is already there".
  document.querySelectorAll(".chips[data-name]").forEach(function (box) {
    var name = box.dataset.name;
    var input = box.querySelector("input[type=text]");
    if (!input) return;
    var status = box.nextElementSibling;
    if (!status || !status.classList.contains("chips-status")) {
      status = document.createElement("p");
      status.className = "chips-status hint";
      status.setAttribute("role", "status");
      status.setAttribute("aria-live", "polite");
      box.after(status);
    }
    function say(msg) { status.textContent = msg; }
    function chip(value) {
      var c = document.createElement("span");
      c.className = "chip";
      var label = document.createElement("span");
      label.textContent = value;
      var hidden = document.createElement("input");
      hidden.type = "hidden"; hidden.name = name; hidden.value = value;
      var remove = document.createElement("button");
      remove.type = "button"; remove.textContent = "\u00d7";
      remove.setAttribute("aria-label", "Remove " + value);
      c.append(label, remove, hidden);
      return c;
    }
    // Server-rendered chips: a ticked one becomes a chip, an unticked one
    // (the admin unticked it before a refused form came back) is dropped,
    // as it would not have been sent.
    box.querySelectorAll(".chip").forEach(function (old) {
      var cb = old.querySelector("input[type=checkbox]");
      if (!cb) return;
      if (cb.checked) box.insertBefore(chip(cb.value), old);
      old.remove();
    });
    function values() {
      return Array.prototype.filter.call(box.querySelectorAll("input"), function (i) {
        return i.name === name && (i.type !== "checkbox" || i.checked);
      }).map(function (i) { return i.value; });
    }
    function add(value) {
      value = value.trim();
      if (!value) return null;
      if (values().indexOf(value) >= 0) return value + " is already there";
      box.insertBefore(chip(value), input);
      return value + " added";
    }
    function removeChip(c) {
      var value = c.querySelector("input").value;
      c.remove();
      say(value + " removed.");
    }
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" || ev.key === ",") {
        // Enter in an empty input is left alone: it sends the form, as
        // in any other text field.
        if (ev.key === "Enter" && input.value.trim() === "") return;
        ev.preventDefault();
        var said = input.value.split(",").map(add).filter(Boolean);
        input.value = "";
        if (said.length) say(said.join(", ") + ".");
      } else if (ev.key === "Backspace" && input.value === "") {
        var chips = box.querySelectorAll(".chip");
        if (chips.length) removeChip(chips[chips.length - 1]);
      }
    });
    box.addEventListener("click", function (ev) {
      var b = ev.target.closest(".chip button");
      if (!b) return;
      var c = b.closest(".chip");
      var next = c.nextElementSibling;
      removeChip(c);
      (next && next.querySelector("button") || input).focus();
    });
  });

  // After a refused form, focus the error summary so that screen readers
  // announce it and keyboard users start there. Each item that names a
  // field becomes a link to that field (the field named by the service,
  // or the first input of a list such as groups[2]).
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.querySelectorAll("li[data-field]").forEach(function (li) {
      var name = li.dataset.field.replace(/\[\d+\]$/, "");
      var field = document.querySelector('main form [name="' + CSS.escape(name) + '"]:not([type=hidden])');
      var label = li.querySelector("strong");
      if (!field || !label) return;
      var a = document.createElement("a");
      a.href = field.id ? "#" + field.id : "#";
      a.textContent = label.textContent;
      a.addEventListener("click", function (ev) {
        ev.preventDefault();
        field.focus();
        field.scrollIntoView({block: "center"});
      });
      label.replaceWith(a);
    });
    summary.focus();
  }

  // Group pickers: the filter hides the groups whose name does not
  // contain what is typed (ticked ones always stay), and Enter in it does
  // not send the form.
  document.querySelectorAll("[data-picker]").forEach(function (picker) {
    var filter = picker.querySelector("[data-picker-filter]");
    var count = picker.querySelector("[data-picker-count]");
    var options = picker.querySelectorAll("[data-picker-option]");
    if (!filter) return;
    filter.addEventListener("keydown", function (ev) { if (ev.key === "Enter") ev.preventDefault(); });
    filter.addEventListener("input", function () {
      var q = filter.value.trim().toLowerCase(), shown = 0;
      options.forEach(function (o) {
        var box = o.querySelector("input"), name = o.textContent.trim().toLowerCase();
        var show = q === "" || box.checked || name.indexOf(q) !== -1;
        o.hidden = !show;
        if (show) shown++;
      });
      if (count) count.textContent = q === "" ? options.length + " groups; ticked ones come first." : shown + " of " + options.length + " groups shown (ticked ones always are).";
    });
  });
})();

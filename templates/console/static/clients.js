// Ward console, clients screen. Without this script every page still
// works: the new-client form shows every field (each labelled with the
// kind it applies to, the server names any filled field that does not fit
// the kind), and a new secret is shown in the page for the admin to copy
// by hand (the Copy button is hidden: it could do nothing). The secret
// dialog part also serves a new API key's page (apikey.html), which shows
// its key once in the same dialog.
(function () {
  "use strict";

  // The new-client form (and the new identity provider form,
  // data-kind-form) shows only the fields of the chosen kind.
  var form = document.querySelector("form[data-client-form], form[data-kind-form]");
  if (form) {
    var update = function () {
      var chosen = form.querySelector("input[name=kind]:checked");
      var kind = chosen ? chosen.value : "";
      form.querySelectorAll("[data-kind-only]").forEach(function (box) {
        var off = kind !== "" && box.dataset.kindOnly !== kind;
        box.hidden = off;
        // Hidden fields are disabled too, so they are not sent: what the
        // user cannot see cannot be refused.
        box.querySelectorAll("input, select, textarea").forEach(function (el) { el.disabled = off; });
      });
    };
    form.addEventListener("change", function (ev) {
      if (ev.target.name === "kind") update();
    });
    update();
  }

  // The secret dialog (console.js makes it modal). The secret is shown
  // once: only "I have stored the secret" (value "stored") may close it.
  var dialog = document.getElementById("secret-dialog");
  if (!dialog) return;
  // Escape fires "cancel": refuse it. Browsers may ignore preventDefault
  // (Chrome does for a dialog opened without a user gesture, and on a
  // second Escape), so a close that did not come from the button opens
  // the dialog again.
  dialog.addEventListener("cancel", function (ev) { ev.preventDefault(); });
  dialog.addEventListener("close", function () {
    if (dialog.returnValue === "stored") return;
    dialog.returnValue = "";
    if (typeof dialog.showModal === "function") dialog.showModal();
    else dialog.setAttribute("open", "");
  });

  var copy = dialog.querySelector("[data-secret-copy]");
  if (!copy) return;
  var src = document.getElementById(copy.dataset.secretCopy);
  var status = document.getElementById(copy.dataset.secretCopy + "-status");
  copy.hidden = false;
  if (dialog.open) copy.focus();
  function say(msg) { if (status) status.textContent = msg; }
  // Without the clipboard (plain http is not a secure context, or the
  // browser refuses), the secret is selected and the admin told how to
  // copy it: a selection alone says nothing to a screen reader.
  function selectSecret() {
    var range = document.createRange();
    range.selectNodeContents(src);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    say("Selected: press Ctrl+C (\u2318C on a Mac) to copy");
  }
  copy.addEventListener("click", function () {
    var text = src.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { say("Copied to the clipboard."); }, selectSecret);
    } else {
      selectSecret();
    }
  });
})();

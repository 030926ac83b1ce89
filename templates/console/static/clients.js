// Ward console, clients screen: the new-client form shows only the fields
// of the chosen kind. Without this script every field is shown, each
// labelled with the kind it applies to, and the server names any filled
// field that does not fit the kind.
(function () {
  "use strict";
  var form = document.querySelector("form[data-client-form]");
  if (!form) return;
  function update() {
    var chosen = form.querySelector("input[name=kind]:checked");
    var kind = chosen ? chosen.value : "";
    form.querySelectorAll("[data-kind-only]").forEach(function (box) {
      var off = kind !== "" && box.dataset.kindOnly !== kind;
      box.hidden = off;
      // Hidden fields are disabled too, so they are not sent: what the
      // user cannot see cannot be refused.
      box.querySelectorAll("input, select, textarea").forEach(function (el) { el.disabled = off; });
    });
  }
  form.addEventListener("change", function (ev) {
    if (ev.target.name === "kind") update();
  });
  update();
})();

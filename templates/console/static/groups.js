// Ward console, group pages: progressive enhancement of the attribute
// inputs (console/ui/groups.go describes the form without script).
(function () {
  "use strict";

  // Chips the page starts with are ticked checkboxes, so that a value can
  // be dropped without script; with script they behave like the chips
  // console.js adds: the checkbox is hidden and the × button removes it.
  document.querySelectorAll(".group-attrs .chips[data-name]").forEach(function (box) {
    box.classList.add("enhanced");
    box.querySelectorAll(".chip button[hidden]").forEach(function (b) { b.hidden = false; });
  });

  // A boolean is two checkboxes, "has a value" and "is true": ticking
  // "is true" also gives it a value, removing the value unticks "is true".
  document.querySelectorAll(".group-attrs fieldset.bool").forEach(function (fs) {
    var boxes = fs.querySelectorAll("input[type=checkbox]");
    if (boxes.length !== 2) return;
    var set = boxes[0], val = boxes[1];
    val.addEventListener("change", function () { if (val.checked) set.checked = true; });
    set.addEventListener("change", function () { if (!set.checked) val.checked = false; });
  });
})();

// Ward console: the policy editor and test panel. Without this script the
// pages work the same; it only moves the cursor to where a refused
// condition is wrong, and brings a test answer into view.
(function () {
  "use strict";

  // The server marks the condition it refused with the 1-based line and
  // column of the error (CEL counts code points); put the cursor there so
  // that the mistake can be fixed at once.
  var ta = document.querySelector("textarea[data-error-line]");
  if (ta) {
    var line = parseInt(ta.dataset.errorLine, 10), col = parseInt(ta.dataset.errorColumn, 10);
    var lines = ta.value.split("\n");
    var at = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) at += lines[i].length + 1;
    // A column in code points becomes an offset in UTF-16 units.
    at += Array.from(lines[line - 1] || "").slice(0, Math.max(col - 1, 0)).join("").length;
    ta.focus();
    ta.setSelectionRange(at, at);
    // Scroll the textarea so that the line is visible.
    var lh = parseFloat(getComputedStyle(ta).lineHeight) || 18;
    ta.scrollTop = Math.max(0, (line - 2) * lh);
    return;
  }

  // A test answer (or the reason there is none) is below the panel's
  // form: move focus there so that it is read and seen.
  var answer = document.getElementById("test-answer");
  if (answer) {
    answer.focus();
    answer.scrollIntoView({ block: "nearest" });
  }
})();

// mtcheck HTML report: severity and rule-family filters. The page reads the same without this script.
(function () {
  "use strict";
  var form = document.getElementById("filters");
  // Escape hides a shown tooltip (WCAG 1.4.13) until focus or the pointer moves to another mark.
  var dismissedOn = null;
  function markOf(node) {
    return node && node.closest ? node.closest("mark.finding") : null;
  }
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.body.classList.add("tips-dismissed");
    dismissedOn = markOf(document.activeElement) || document.querySelector("mark.finding:hover");
  });
  function reset(event) {
    var mark = markOf(event.target);
    if (mark && mark !== dismissedOn) document.body.classList.remove("tips-dismissed");
  }
  document.addEventListener("focusin", reset);
  document.addEventListener("mouseover", reset);
  // "Copy corrected text": the text with every suggestion applied (made when the report was written).
  document.querySelectorAll("button.copy-corrected").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-source"));
    var status = button.parentNode.querySelector(".copy-status");
    button.hidden = false;
    button.addEventListener("click", function () {
      function done(ok) { status.textContent = ok ? "Copied." : "Could not copy: select the text below."; }
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(source.value).then(function () { done(true); }, function () {
          source.hidden = false; source.select(); done(document.execCommand("copy"));
        });
      } else {
        source.hidden = false; source.select(); done(document.execCommand("copy"));
      }
    });
  });
  if (!form) return;
  form.hidden = false;
  var boxes = form.querySelectorAll("input[data-filter]");
  var fluency = document.getElementById("show-fluency");
  var status = document.getElementById("filter-status");
  var items = document.querySelectorAll(".finding-list li[data-severity]");
  var total = 0;
  items.forEach(function (li) { total += Number(li.getAttribute("data-places") || 1); });
  var marks = document.querySelectorAll("mark.finding[data-severity]");

  function apply() {
    var off = {};
    boxes.forEach(function (box) {
      if (!box.checked) off[box.getAttribute("data-filter") + ":" + box.value] = true;
    });
    function hidden(el) {
      return !!(off["severity:" + el.getAttribute("data-severity")] || off["family:" + el.getAttribute("data-family")]);
    }
    var shown = 0;
    items.forEach(function (li) {
      var hide = hidden(li);
      li.classList.toggle("off", hide);
      if (!hide) shown += Number(li.getAttribute("data-places") || 1);
    });
    marks.forEach(function (mark) {
      var hide = hidden(mark);
      mark.classList.toggle("off", hide);
      if (mark.id) mark.tabIndex = hide ? -1 : 0;
    });
    if (fluency) document.body.classList.toggle("hide-fluency", !fluency.checked);
    if (status) status.textContent = "Showing " + shown + " of " + total + " findings.";
  }
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  apply();
})();

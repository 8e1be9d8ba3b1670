"use strict";
// Filters for the report. State lives in the query string (?verdict=FAIL,WARN&area=nonce&level=MUST
// &section=...&q=text) so a filtered view can be linked; the fragment stays free for anchors
// (#check-<id>, #ex-<n>). No network, no external code: the page's CSP allows only this script.
(function () {
  var checks = Array.prototype.slice.call(document.querySelectorAll("details.check"));
  var boxes = Array.prototype.slice.call(document.querySelectorAll("#filters input[name=verdict]"));
  var selects = { area: document.getElementById("filter-area"), section: document.getElementById("filter-section"),
                  level: document.getElementById("filter-level") };
  var text = document.getElementById("filter-text");
  var counter = document.getElementById("shown-count");

  function readQuery() {
    var params = new URLSearchParams(window.location.search);
    var verdicts = params.get("verdict");
    if (verdicts !== null) {
      var wanted = verdicts.toUpperCase().split(",");
      boxes.forEach(function (box) { box.checked = wanted.indexOf(box.value) >= 0; });
    }
    Object.keys(selects).forEach(function (key) {
      var value = params.get(key);
      if (value !== null) {
        var select = selects[key];
        for (var i = 0; i < select.options.length; i++) {
          if (select.options[i].value.toLowerCase() === value.toLowerCase()) { select.selectedIndex = i; }
        }
      }
    });
    if (params.get("q") !== null) { text.value = params.get("q"); }
  }

  function writeQuery() {
    var params = new URLSearchParams();
    var checked = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
    if (checked.length !== boxes.length) { params.set("verdict", checked.join(",")); }
    Object.keys(selects).forEach(function (key) { if (selects[key].value) { params.set(key, selects[key].value); } });
    if (text.value) { params.set("q", text.value); }
    var query = params.toString();
    try {
      history.replaceState(null, "", window.location.pathname + (query ? "?" + query : "") + window.location.hash);
    } catch (e) { /* file:// in some browsers refuses; the filters still work */ }
  }

  function apply() {
    var verdicts = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
    var needle = text.value.trim().toLowerCase();
    var shown = 0;
    checks.forEach(function (el) {
      var ok = verdicts.indexOf(el.dataset.verdict) >= 0 &&
        (!selects.area.value || el.dataset.area === selects.area.value) &&
        (!selects.section.value || el.dataset.section === selects.section.value) &&
        (!selects.level.value || el.dataset.level === selects.level.value) &&
        (!needle || el.textContent.toLowerCase().indexOf(needle) >= 0);
      el.hidden = !ok;
      if (ok) { shown++; }
    });
    counter.textContent = shown + " of " + checks.length + " checks shown";
    document.body.dataset.shown = String(shown);
  }

  function revealTarget() {
    // A link to a check or an exchange opens it (and what contains it), even when filtered out.
    var id = decodeURIComponent(window.location.hash.slice(1));
    var el = id ? document.getElementById(id) : null;
    if (!el) { return; }
    for (var node = el; node; node = node.parentElement) {
      if (node.tagName === "DETAILS") { node.open = true; }
      if (node.hidden) { node.hidden = false; }
    }
    el.scrollIntoView();
  }

  function changed() { apply(); writeQuery(); }

  boxes.forEach(function (box) { box.addEventListener("change", changed); });
  Object.keys(selects).forEach(function (key) { selects[key].addEventListener("change", changed); });
  text.addEventListener("input", changed);
  document.getElementById("filter-reset").addEventListener("click", function () {
    boxes.forEach(function (b) { b.checked = true; });
    Object.keys(selects).forEach(function (key) { selects[key].selectedIndex = 0; });
    text.value = "";
    changed();
  });
  window.addEventListener("hashchange", revealTarget);
  readQuery();
  apply();
  revealTarget();
  document.body.dataset.ready = "1";
})();

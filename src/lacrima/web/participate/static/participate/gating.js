// Show a question only when its gate question (data-show-if) has one of the answers in data-show-values.
// The server applies the same rule and ignores answers to hidden questions; this only keeps the page short.
(function () {
  "use strict";
  function update() {
    document.querySelectorAll("[data-show-if]").forEach(function (box) {
      var gate = box.getAttribute("data-show-if");
      var allowed = box.getAttribute("data-show-values").split("|");
      var gateOnPage = document.querySelector('input[name="' + gate + '"]');
      if (!gateOnPage) { return; }
      var picked = document.querySelector('input[name="' + gate + '"]:checked');
      var show = Boolean(picked) && allowed.indexOf(picked.value) !== -1;
      box.hidden = !show;
      box.querySelectorAll("input").forEach(function (inp) { inp.disabled = !show; });
    });
  }
  document.addEventListener("change", update);
  document.addEventListener("DOMContentLoaded", update);
})();

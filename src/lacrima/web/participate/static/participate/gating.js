// Show follow-up questions only when their gate question has the answer that opens them.
(function () {
  function update() {
    document.querySelectorAll("[data-show-if]").forEach(function (box) {
      var gate = box.getAttribute("data-show-if");
      var allowed = box.getAttribute("data-show-values").split("|");
      var picked = document.querySelector('input[name="' + gate + '"]:checked');
      var gateOnPage = document.querySelector('input[name="' + gate + '"]');
      if (!gateOnPage) { return; }
      var show = picked && allowed.some(function (v) { return parseFloat(v) === parseFloat(picked.value) || v === picked.value; });
      box.hidden = !show;
      box.querySelectorAll("input").forEach(function (inp) { inp.disabled = !show; });
    });
  }
  document.addEventListener("change", update);
  update();
})();

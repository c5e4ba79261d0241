/* A model's page follows its validation: polls the model API while the validation is queued
 * or running, updates the stage and progress, and reloads the page when it is finished (the
 * page then shows the layers, or the error). Vanilla JS; without it, reloading does the same. */
(function () {
  "use strict";
  var box = document.getElementById("validation");
  if (!box || (box.dataset.status !== "queued" && box.dataset.status !== "running")) return;
  var delay = 1000;

  function field(name) { return box.querySelector('[data-field="' + name + '"]'); }

  function poll() {
    fetch(box.dataset.modelUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (resp) { return resp.ok ? resp.json() : Promise.reject(resp.status); })
      .then(function (spec) {
        if (spec.status === "done" || spec.status === "failed") { window.location.reload(); return; }
        var status = field("status");
        status.textContent = spec.status.charAt(0).toUpperCase() + spec.status.slice(1);
        status.className = "status status-" + spec.status;
        field("stage").textContent = spec.stage || "";
        if (field("progress")) field("progress").value = spec.progress;
        delay = 1000;
        window.setTimeout(poll, delay);
      })
      .catch(function () { delay = Math.min(delay * 2, 30000); window.setTimeout(poll, delay); });
  }
  window.setTimeout(poll, delay);
})();

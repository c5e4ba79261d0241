/* Campaign progress: polls the admin progress API and updates the bar, counts, table and the
 * failed-job list. Vanilla JS, no dependency; the page works without it (reload to refresh). */
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box) return;
  var url = box.dataset.progressUrl;
  var retryBase = box.dataset.retryBase;
  var csrf = box.dataset.csrf;
  var timer = null;
  var delay = 1500;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function when(iso) { return iso ? iso.slice(0, 19).replace("T", " ") : ""; }

  /* The background jobs of every kind (model validation, processing, exports, validation
   * runs, running explanations): one row each, rebuilt from the API's uniform rows. */
  function renderJobs(jobs) {
    var body = document.querySelector("#job-table tbody");
    if (!body) return;
    body.innerHTML = "";
    jobs.forEach(function (job) {
      var tr = el("tr", { "data-job": job.kind + "-" + job.id });
      tr.appendChild(el("td", {}, job.subject));
      var status = el("td");
      status.appendChild(el("span", { "class": "status status-" + job.status }, job.status));
      if (job.error) {
        status.appendChild(document.createTextNode(" "));
        status.appendChild(el("span", { "class": "error" }, job.error.slice(0, 300)));
      }
      tr.appendChild(status);
      tr.appendChild(el("td", {}, job.stage));
      var cell = el("td");
      var bar = el("progress", { max: "1" }, Math.round(100 * job.progress) + "%");
      bar.value = job.progress;
      cell.appendChild(bar);
      tr.appendChild(cell);
      tr.appendChild(el("td", {}, when(job.started_at)));
      tr.appendChild(el("td", {}, when(job.finished_at)));
      body.appendChild(tr);
    });
  }

  function render(data) {
    var o = data.overall;
    Object.keys(o).forEach(function (k) {
      var span = box.querySelector('[data-count="' + k + '"]');
      if (span) span.textContent = o[k];
    });
    var total = o.total || 1;
    var bar = document.getElementById("progress-bar");
    bar.querySelector(".done").style.width = (100 * o.done / total) + "%";
    bar.querySelector(".failed").style.width = (100 * o.failed / total) + "%";
    bar.setAttribute("aria-valuenow", Math.round(100 * o.fraction_done));
    data.images.forEach(function (row) {
      var tr = box.querySelector('tr[data-image="' + row.image_id + '"]');
      if (!tr) return;
      var status = tr.querySelector('[data-field="status"]');
      status.innerHTML = "";
      status.appendChild(el("span", { "class": "status status-" + row.status }, row.status));
      tr.querySelector('[data-field="progress"]').value = row.progress;
      tr.querySelector('[data-field="predicted"]').textContent = row.predicted_class || "";
    });
    var list = document.getElementById("failed-list");
    list.innerHTML = "";
    data.failed.forEach(function (row) {
      var li = el("li");
      li.appendChild(el("strong", {}, row.name));
      li.appendChild(document.createTextNode(" (" + (row.true_class || "no class") + "): "));
      li.appendChild(el("span", { "class": "error" }, row.error));
      var form = el("form", { method: "post", action: retryBase + row.job_id + "/retry/", "class": "inline" });
      form.appendChild(el("input", { type: "hidden", name: "csrfmiddlewaretoken", value: csrf }));
      form.appendChild(el("button", { type: "submit" }, "Retry"));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(form);
      list.appendChild(li);
    });
    renderJobs(data.jobs || []);
    document.getElementById("failed-jobs").hidden = data.failed.length === 0;
    document.getElementById("retry-all").hidden = data.failed.length === 0;
    box.dataset.state = o.queued + o.running === 0 ? "idle" : "working";
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (resp) { return resp.ok ? resp.json() : Promise.reject(resp.status); })
      .then(function (data) {
        render(data);
        var o = data.overall;
        delay = o.queued + o.running > 0 ? 1500 : 10000;
      })
      .catch(function () { delay = Math.min(delay * 2, 30000); })
      .then(function () { timer = window.setTimeout(poll, delay); });
  }
  // The bar's first widths come from data-width (no style="" in the page: Content-Security-Policy).
  Array.prototype.forEach.call(box.querySelectorAll(".progressbar [data-width]"), function (span) {
    span.style.width = span.dataset.width + "%";
  });
  poll();
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { window.clearTimeout(timer); } else { window.clearTimeout(timer); poll(); }
  });
})();

/* Deep Reveal in the browser: a thin client of /api/game/ (vanilla JS, no build step).
 * The server holds the round state; this script only shows what the API returns. */
(function () {
  "use strict";
  var root = document.getElementById("game");
  if (!root) return;

  var api = root.dataset.api; // .../api/game/rounds/
  var campaign = root.dataset.campaign || "";
  var csrf = root.dataset.csrf;
  var summaryBase = root.dataset.summaryBase;
  var round = null;
  var busy = false;

  function $(id) { return document.getElementById(id); }
  var phases = ["reveal-phase", "label-phase", "summary-phase", "empty-phase"];

  function show(phase) {
    phases.forEach(function (p) { $(p).hidden = p !== phase; });
  }
  function say(text) { $("status").textContent = text || ""; }
  function fail(text) { $("error").textContent = text || ""; }

  function request(method, url, body) {
    var init = {
      method: method,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": csrf },
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) {
          var err = new Error(data.detail || ("Request failed (" + resp.status + ")."));
          err.status = resp.status;
          err.data = data;
          throw err;
        }
        return data;
      });
    });
  }

  function act(fn) {
    if (busy) return;
    busy = true;
    fail("");
    setBusy(true);
    fn().catch(function (err) {
      if (err.status === 409 && /No new picture/.test(err.message)) {
        $("empty-message").textContent = err.message;
        show("empty-phase");
        say("");
      } else {
        fail(err.message || "Something went wrong. Please try again.");
      }
    }).then(function () { busy = false; setBusy(false); });
  }

  function setBusy(on) {
    ["more", "guess", "resign", "send-chars", "next"].forEach(function (id) {
      var el = $(id);
      if (el) el.setAttribute("aria-disabled", on ? "true" : "false");
    });
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // --- rendering ---------------------------------------------------------------------------

  function renderChoices(choices) {
    var box = $("choices");
    box.textContent = "";
    if (choices.length > 12) {
      var label = el("label", { "for": "choice-select" }, "Class");
      var select = el("select", { id: "choice-select", name: "choice", required: "required" });
      select.appendChild(el("option", { value: "" }, "Choose a class…"));
      choices.forEach(function (c) { select.appendChild(el("option", { value: c.value }, c.label)); });
      box.appendChild(label);
      box.appendChild(select);
      return;
    }
    choices.forEach(function (c, i) {
      var id = "choice-" + i;
      var wrap = el("div", { "class": "choice" });
      var input = el("input", { type: "radio", name: "choice", id: id, value: c.value });
      var lab = el("label", { "for": id });
      if (i < 9) lab.appendChild(el("kbd", { "aria-hidden": "true" }, String(i + 1)));
      lab.appendChild(document.createTextNode(" " + c.label));
      wrap.appendChild(input);
      wrap.appendChild(lab);
      box.appendChild(wrap);
    });
  }

  function renderReveal(r, isNew) {
    var img = $("frame");
    img.src = r.frame_url;
    img.alt = "The picture, revealed at step " + r.step + " of " + r.max_step +
      " (" + r.reveal_percent + "% of the pixels)";
    $("step-caption").textContent = "Step " + r.step + " of " + r.max_step + " · " +
      r.reveal_percent + "% revealed";
    document.querySelectorAll("[data-pip]").forEach(function (pip) {
      pip.classList.toggle("on", Number(pip.dataset.pip) <= r.step);
    });
    $("more").disabled = r.step >= r.max_step;
    if (isNew) {
      renderChoices(r.choices);
      $("guess-form").reset();
    }
    show("reveal-phase");
  }

  function renderLabelling() {
    var form = $("chars-form");
    form.reset();
    form.querySelectorAll("input").forEach(function (input) {
      input.removeAttribute("aria-invalid");
      $(input.id + "-error").textContent = "";
    });
    show("label-phase");
    $("char-1").focus();
  }

  function outcomeTitle(outcome) {
    if (outcome === "win") return "You won!";
    if (outcome === "loss") return "Not this time";
    return "You resigned";
  }

  function addStat(dl, term, value) {
    var div = el("div");
    div.appendChild(el("dt", {}, term));
    div.appendChild(el("dd", {}, value));
    dl.appendChild(div);
  }

  function renderSummary(r) {
    var s = r.summary;
    $("summary-title").textContent = outcomeTitle(s.outcome) + (s.points ? " +" + s.points + " points" : "");
    var answer = "The answer was " + s.answer_label + ".";
    if (s.guess) answer += " You guessed " + s.guess_label + " at step " + s.step + ".";
    $("summary-answer").textContent = answer;
    var dl = $("summary-points");
    dl.textContent = "";
    addStat(dl, "Points this round", s.points + " (" + s.points_base + " + " + s.points_bonus + " for characteristics)");
    addStat(dl, "Your points", String(s.player_points));
    addStat(dl, "Level", s.level.number + " · " + s.level.name);
    addStat(dl, "Rank", s.rank ? "#" + s.rank : "–");
    $("player-points").textContent = s.player_points;
    $("summary-image").src = s.image_url;
    $("summary-image").alt = "The full picture: " + s.answer_label;
    $("summary-overlay").src = s.overlay_url;
    $("summary-overlay").alt = "Cluster map overlay on the picture";
    $("summary-overlay-caption").textContent = "This is what the network looked at in layer " +
      s.layer_number + " of " + s.layer_count + " (" + s.layer + "); this cluster carries " +
      s.weight.toFixed(1) + "% of the layer's evidence.";
    var chars = $("summary-chars");
    chars.textContent = "";
    if (s.characteristics.length) {
      chars.appendChild(el("h3", {}, "What you saw"));
      var ul = el("ul", { "class": "chips" });
      s.characteristics.forEach(function (c) { ul.appendChild(el("li", {}, c)); });
      chars.appendChild(ul);
    }
    $("summary-link").href = summaryBase + encodeURIComponent(r.token) + "/";
    show("summary-phase");
    say(outcomeTitle(s.outcome) + " " + answer);
    $("summary-title").focus();
  }

  function render(r, isNew) {
    round = r;
    if (r.status === "active") renderReveal(r, isNew);
    else if (r.status === "labelling") renderLabelling();
    else if (r.status === "done") renderSummary(r);
  }

  // --- actions -----------------------------------------------------------------------------

  function start() {
    act(function () {
      say("Loading a new picture…");
      return request("POST", api, campaign ? { campaign: campaign } : {}).then(function (r) {
        render(r, true);
        if (r.status === "active") {
          say("New picture: step " + r.step + " of " + r.max_step + ".");
          $("more").focus();
        }
      });
    });
  }

  function more() {
    if (!round || round.status !== "active" || round.step >= round.max_step) return;
    act(function () {
      return request("POST", api + round.token + "/reveal/").then(function (r) {
        render(r, false);
        say("Step " + r.step + " of " + r.max_step + ": " + r.reveal_percent + "% revealed.");
      });
    });
  }

  function selectedChoice() {
    var select = $("choice-select");
    if (select) return select.value;
    var checked = document.querySelector("#choices input[name=choice]:checked");
    return checked ? checked.value : "";
  }

  function guess(event) {
    if (event) event.preventDefault();
    if (!round || round.status !== "active") return;
    var choice = selectedChoice();
    if (!choice) { fail("Pick a class first."); return; }
    act(function () {
      return request("POST", api + round.token + "/guess/", { choice: choice }).then(function (r) {
        render(r, false);
        say("Guess recorded. Now tell us what you saw.");
      });
    });
  }

  function resign() {
    if (!round || round.status !== "active") return;
    act(function () {
      return request("POST", api + round.token + "/resign/").then(function (r) { render(r, false); });
    });
  }

  function sendCharacteristics(event) {
    event.preventDefault();
    if (!round || round.status !== "labelling") return;
    var inputs = Array.prototype.slice.call($("chars-form").querySelectorAll("input[name=texts]"));
    var texts = inputs.map(function (i) { return i.value; });
    inputs.forEach(function (i) { i.removeAttribute("aria-invalid"); $(i.id + "-error").textContent = ""; });
    act(function () {
      return request("POST", api + round.token + "/characteristics/", { texts: texts })
        .then(function (r) { render(r, false); })
        .catch(function (err) {
          var errors = err.data && err.data.errors;
          if (err.status === 400 && Array.isArray(errors)) {
            var first = null;
            errors.forEach(function (message, i) {
              if (!message || !inputs[i]) return;
              inputs[i].setAttribute("aria-invalid", "true");
              $(inputs[i].id + "-error").textContent = message;
              if (!first) first = inputs[i];
            });
            if (first) first.focus();
          }
          throw err;
        });
    });
  }

  $("more").addEventListener("click", more);
  $("guess-form").addEventListener("submit", guess);
  $("resign").addEventListener("click", resign);
  $("chars-form").addEventListener("submit", sendCharacteristics);
  $("next").addEventListener("click", start);

  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    var tag = (e.target && e.target.tagName) || "";
    if (tag === "INPUT" && e.target.type !== "radio") return;
    if (tag === "TEXTAREA" || tag === "SELECT") return;
    var key = e.key.toLowerCase();
    if (!round) return;
    if (round.status === "active") {
      if (key === "m") { e.preventDefault(); more(); }
      else if (key === "r") { e.preventDefault(); resign(); }
      else if (/^[1-9]$/.test(key)) {
        var radio = $("choice-" + (Number(key) - 1));
        if (radio) { e.preventDefault(); radio.checked = true; radio.focus(); }
      } else if (key === "enter" && selectedChoice()) { e.preventDefault(); guess(); }
    } else if (round.status === "done" && key === "n") {
      e.preventDefault();
      start();
    }
  });

  start();
})();

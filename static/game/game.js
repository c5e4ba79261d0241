/* Deep Reveal in the browser: a thin client of /api/game/ (vanilla JS, no build step).
 * The server holds the round state; this script only shows what the API returns.
 * Helpers: game-ui.js; the summary: game-summary.js; the guided first round: game-tour.js. */
(function () {
  "use strict";
  var root = document.getElementById("game");
  var NS = window.DeepReveal;
  if (!root || !NS) return;
  var $ = NS.$, el = NS.el, toggle = NS.toggle, isNumber = NS.isNumber;

  var api = root.dataset.api; // .../api/game/rounds/
  var meUrl = root.dataset.me;
  var campaign = root.dataset.campaign || "";
  var csrf = root.dataset.csrf;
  var playBase = root.dataset.playBase || "/game/play/";
  var summaryBase = root.dataset.summaryBase;
  var round = null;
  var busy = false;
  var stageToken = null; // the round whose frame the stage shows
  var taboo = [];
  var phases = ["loading-phase", "reveal-phase", "label-phase", "summary-phase", "empty-phase"];
  var EXHAUSTED = ["campaign_exhausted", "nothing_available"];
  // 409 codes of an action on a round that is no longer where this page thinks it is
  // (game/services/rounds.py): expired, guessed or finished elsewhere (another tab).
  var ROUND_MOVED = ["round_expired", "round_guessed", "round_over", "round_active"];
  var maxLength = Number($("chars-form").dataset.maxLength) || 40;

  function request(method, url, body) { return NS.request(method, url, body, csrf); }

  function show(phase) {
    phases.forEach(function (p) { $(p).hidden = p !== phase; });
    $("play-area").hidden = !(phase === "reveal-phase" || phase === "label-phase");
    root.dataset.phase = phase.replace("-phase", "");
  }
  function say(text) { $("status").textContent = text || ""; }
  function fail(text) { $("error").textContent = text || ""; }

  // One request at a time (a second press while one is in flight does nothing); the button
  // that sent it, if any, says it is busy (aria-busy and a spinner) until the answer is shown.
  function act(fn, button) {
    if (busy) return;
    busy = true;
    fail("");
    setBusy(true, button);
    fn().catch(function (err) {
      var data = err.data || {};
      if (EXHAUSTED.indexOf(data.code) >= 0 ||
          ((err.status === 409 || err.status === 404) && /No new picture/.test(err.message))) {
        renderEmpty(data, err.message);
      } else if (round && err.status === 409 && ROUND_MOVED.indexOf(data.code) >= 0) {
        return roundMoved(data.code, err.message);
      } else {
        if (!round) renderEmpty(null, "", true); // nothing to play yet: not an endless spinner
        fail(err.message || "Something went wrong. Please try again.");
      }
    }).then(function () { busy = false; setBusy(false); });
  }

  var ACTION_BUTTONS = ["more", "guess", "resign", "resign-yes", "send-chars", "next", "next-top", "restart"];

  function setBusy(on, button) {
    root.setAttribute("aria-busy", on ? "true" : "false");
    ACTION_BUTTONS.forEach(function (id) {
      var node = $(id);
      if (!node) return;
      node.setAttribute("aria-disabled", on ? "true" : "false");
      if (!on || node === button) node.setAttribute("aria-busy", on ? "true" : "false");
    });
  }

  function stepNumber(r) { return isNumber(r.step_number) ? r.step_number : r.step + 1; }
  function stepCount(r) { return isNumber(r.step_count) ? r.step_count : r.max_step + 1; }

  // --- the stage: the frame, during play and while describing it ---------------------------

  function setStage(r, caption) {
    var img = $("frame");
    var stage = $("stage");
    if (r.frame_url) {
      if (img.getAttribute("src") !== r.frame_url) img.src = r.frame_url;
      stageToken = r.token;
    }
    var has = stageToken === r.token && !!img.getAttribute("src");
    stage.hidden = !has;
    $("play-area").classList.toggle("no-stage", !has);
    img.alt = "Part of the picture, revealed at step " + stepNumber(r) + " of " + stepCount(r) +
      " (" + r.reveal_percent + "% of the pixels)";
    $("step-caption").textContent = caption;
    document.querySelectorAll("[data-pip]").forEach(function (pip) {
      pip.classList.toggle("on", Number(pip.dataset.pip) <= stepNumber(r));
    });
  }

  // --- rendering ---------------------------------------------------------------------------

  function renderChoices(choices) {
    var box = $("choices");
    box.textContent = "";
    box.classList.toggle("many", choices.length > 6);
    $("play-area").classList.toggle("many-choices", choices.length > 6);
    if (choices.length > 12) { // game.rules.MAX_RADIO_CHOICES: the server sorts these by name
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
      if (i < 9) lab.appendChild(el("kbd", { "class": "kbd-hint", "aria-hidden": "true" }, String(i + 1)));
      lab.appendChild(document.createTextNode(" " + c.label));
      wrap.appendChild(input);
      wrap.appendChild(lab);
      box.appendChild(wrap);
    });
  }

  function renderStakes(r) {
    var hasNow = toggle($("stakes"), isNumber(r.points_now));
    if (hasNow) $("points-now").textContent = r.points_now;
    if (toggle($("stakes-next"), hasNow && isNumber(r.points_next))) {
      $("points-next").textContent = r.points_next;
    }
  }

  function renderReveal(r, isNew) {
    closeConfirm(false);
    setStage(r, "Step " + stepNumber(r) + " of " + stepCount(r) + " · " + r.reveal_percent + "% revealed");
    renderStakes(r);
    $("more").disabled = r.step >= r.max_step;
    if (isNew) {
      renderChoices(r.choices);
      $("guess-form").reset();
      setRoundControls(true);
    }
    show("reveal-phase");
  }

  // The reveal's controls: off once the round can take no more actions (expired), with the
  // way on (a new round) in their place.
  function setRoundControls(on) {
    ["guess", "resign"].forEach(function (id) { $(id).disabled = !on; });
    if (!on) { $("more").disabled = true; toggle($("stakes"), false); }
    $("choices").querySelectorAll("input, select").forEach(function (node) { node.disabled = !on; });
    toggle($("round-gone"), !on);
  }

  // An active round expires at its expires_at (the server's clock) even if the player does
  // nothing: then the page shows it expired at once, not at the next action. A second of slack
  // keeps the page from saying so before the server would.
  var expiryTimer = null;
  var EXPIRY_SLACK_MS = 1000;

  function watchExpiry(r) {
    clearTimeout(expiryTimer);
    expiryTimer = null;
    var at = r && r.status === "active" && r.expires_at ? Date.parse(r.expires_at) : NaN;
    if (!isNumber(at)) return;
    var wait = Math.max(0, at - NS.serverNow()) + EXPIRY_SLACK_MS;
    expiryTimer = setTimeout(function () { expireIfDue(r.token); }, Math.min(wait, 0x7fffffff));
  }

  function expireIfDue(token) {
    if (!round || round.token !== token || round.status !== "active") return;
    if (Date.parse(round.expires_at) + EXPIRY_SLACK_MS > NS.serverNow()) { watchExpiry(round); return; }
    if (busy) { watchExpiry(round); return; } // the answer in flight says how the round is
    fail("This round has expired. Start a new one."); // the server's words (round_expired)
    showExpired();
  }

  function showExpired() {
    closeConfirm(false);
    if (round) round.status = "expired"; // the keys of an active round stop acting on it
    watchExpiry(null);
    NS.drafts.forget(null);
    setRoundControls(false);
    show("reveal-phase");
    $("restart").focus();
  }

  // An action found the round elsewhere than this page shows it: an expired round offers a new
  // one; a round guessed or finished meanwhile (another tab, the time to describe ran out) is
  // shown as it is now, so the player goes on from there.
  function roundMoved(code, message) {
    fail(message);
    if (code === "round_expired") { showExpired(); return; }
    return request("GET", api + round.token + "/").then(function (r) {
      if (r.status === "expired") { showExpired(); return; }
      render(r, r.status === "active");
    }).catch(function () { showExpired(); });
  }

  function renderTaboo(words) {
    taboo = NS.tabooMatchers(words);
    var list = $("taboo-list");
    list.textContent = "";
    (words || []).forEach(function (w) { list.appendChild(el("li", {}, w)); });
    toggle($("taboo"), !!(words && words.length));
  }

  // The length as the server counts it, near the limit and beyond: the field says it is too long
  // (nothing is cut; the server refuses it too). Returns whether the text fits.
  function checkLength(input, announce) {
    var n = NS.charLength(input.value);
    if (announce && n > maxLength && !input.dataset.tooLong) {
      say("Characteristic " + input.id.replace("char-", "") + " is too long.");
    }
    return window.NetVizLengthField.show(input, n, maxLength, "Please shorten it.");
  }

  function checkTaboo(input) {
    var hit = NS.tabooHit(input.value, taboo);
    $(input.id + "-hint").textContent = hit ? "“" + hit + "” is one of the words not to use." : "";
    input.classList.toggle("warn", !!hit);
  }

  function renderLabelling(r) {
    setStage(r, "What you saw: step " + stepNumber(r) + " of " + stepCount(r));
    renderTaboo(Array.isArray(r.taboo) ? r.taboo : []);
    if (isNumber(r.characteristic_max_length)) maxLength = r.characteristic_max_length;
    var form = $("chars-form");
    form.reset();
    form.querySelectorAll("input[name=texts]").forEach(function (input) {
      input.removeAttribute("aria-invalid");
      input.classList.remove("warn");
      delete input.dataset.tooLong;
      $(input.id + "-error").textContent = "";
      $(input.id + "-hint").textContent = "";
      $(input.id + "-count").hidden = true;
    });
    restoreDraft(r.token);
    show("label-phase");
    $("char-1").focus();
  }

  // The texts typed for this round before a reload (this tab's draft), back in their fields.
  function restoreDraft(token) {
    var texts = NS.drafts.load(token);
    if (!texts) return;
    charInputs().forEach(function (input, i) {
      if (typeof texts[i] !== "string" || !texts[i]) return;
      input.value = texts[i];
      checkTaboo(input);
      checkLength(input, false);
    });
    say("Your characteristics not sent yet are back in their fields.");
  }

  function charInputs() {
    return Array.prototype.slice.call($("chars-form").querySelectorAll("input[name=texts]"));
  }

  function renderSummary(r) {
    var s = r.summary;
    var levelNode = $("player-level");
    var previous = Number(levelNode.dataset.level);
    var result = NS.renderSummary(s, { token: r.token, summaryBase: summaryBase, previousLevel: previous });
    // the header's points and level change together, from the same answer
    $("player-points").textContent = s.player_points;
    if (s.level && isNumber(s.level.number)) {
      levelNode.dataset.level = s.level.number;
      levelNode.textContent = "level " + s.level.number + " · " + s.level.name;
      levelNode.classList.toggle("just-up", result.levelUp);
    }
    show("summary-phase");
    say(result.announce);
    $("summary-title").focus();
  }

  function renderEmpty(data, message, isError) {
    data = data || {};
    var exhausted = data.code === "campaign_exhausted";
    // this page plays one campaign (its slug) or every open campaign (none)
    var scope = campaign ? "this campaign" : "every open campaign";
    $("empty-title").textContent = isError ? "The game could not start" : exhausted ?
      "You have played every picture of " + scope : "No picture is left for you right now";
    $("empty-message").textContent = isError ? "" : data.code ?
      "Thank you for playing! Every picture you described helps explain what the network sees." :
      (message || "");
    if (toggle($("empty-described"), isNumber(data.described))) {
      $("empty-described").textContent = "You described " + data.described +
        (data.described === 1 ? " picture" : " pictures") + (campaign ? " in this campaign." : " in all.");
    }
    if (toggle($("empty-progress-wrap"), isNumber(data.campaign_progress))) {
      var pct = Math.round(Math.max(0, Math.min(1, data.campaign_progress)) * 100);
      $("empty-progress").value = pct;
      $("empty-progress").textContent = pct + "%";
      $("empty-progress-label").textContent = (campaign ? "The campaign is " : "The open campaigns are ") +
        pct + "% done (all players together)";
    }
    var next = data.next_campaign;
    if (toggle($("empty-next"), !!(next && next.slug))) {
      $("empty-next-link").href = playBase + encodeURIComponent(next.slug) + "/";
      $("empty-next-link").textContent = "Play the next campaign: " + next.name;
    }
    toggle($("empty-later"), data.more_coming === true);
    show("empty-phase");
    say(isError ? "" : $("empty-title").textContent + ".");
    if (!isError) $("empty-title").focus();
  }

  function render(r, isNew) {
    round = r;
    watchExpiry(r);
    // a draft lives while its round waits for characteristics: accepted or over, it goes
    NS.drafts.forget(r.status === "labelling" ? r.token : null);
    if (r.status === "active") renderReveal(r, isNew);
    else if (r.status === "labelling") renderLabelling(r);
    else if (r.status === "done") renderSummary(r);
    NS.tour.phase(r.status);
  }

  // --- actions -----------------------------------------------------------------------------

  function start(event) {
    var button = event && event.currentTarget && event.currentTarget.tagName === "BUTTON" ? event.currentTarget : null;
    act(function () {
      say("Loading a new picture…");
      return request("POST", api, campaign ? { campaign: campaign } : {}).then(function (r) {
        render(r, true);
        if (r.status === "active") {
          window.scrollTo(0, 0);
          say("New picture: step " + stepNumber(r) + " of " + stepCount(r) + ".");
          $("more").focus({ preventScroll: true });
        }
      });
    }, button);
  }

  function more() {
    if (!round || round.status !== "active" || round.step >= round.max_step) return;
    act(function () {
      return request("POST", api + round.token + "/reveal/").then(function (r) {
        render(r, false);
        var text = "Step " + stepNumber(r) + " of " + stepCount(r) + ": " + r.reveal_percent + "% revealed.";
        if (isNumber(r.points_now)) text += " A right guess now earns " + r.points_now + " points.";
        say(text);
      });
    }, $("more"));
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
    }, $("guess"));
  }

  // Resign asks first (the button and R open the question; "Keep playing" is focused).
  function openConfirm() {
    if (!round || round.status !== "active") return;
    $("resign-confirm").hidden = false;
    $("resign").setAttribute("aria-expanded", "true");
    $("resign-no").focus();
  }

  function closeConfirm(focusBack) {
    if ($("resign-confirm").hidden) return;
    $("resign-confirm").hidden = true;
    $("resign").setAttribute("aria-expanded", "false");
    if (focusBack) $("resign").focus();
  }

  function resign() {
    if (!round || round.status !== "active") return;
    act(function () {
      return request("POST", api + round.token + "/resign/").then(function (r) { render(r, false); });
    }, $("resign-yes"));
  }

  function sendCharacteristics(event) {
    event.preventDefault();
    if (!round || round.status !== "labelling") return;
    var inputs = charInputs();
    var texts = inputs.map(function (i) { return i.value; });
    inputs.forEach(function (i) {
      i.removeAttribute("aria-invalid");
      delete i.dataset.tooLong;
      $(i.id + "-error").textContent = "";
    });
    var tooLong = inputs.filter(function (i) { return !checkLength(i, false); });
    if (tooLong.length) { // nothing is sent (the server would refuse it): the field says why
      fail("");
      tooLong[0].focus();
      return;
    }
    if (!texts.some(function (t) { return t.trim(); })) { // all blank: the server's words, unsent
      inputs[0].setAttribute("aria-invalid", "true");
      $(inputs[0].id + "-error").textContent = "Please type a characteristic of what you saw.";
      fail("Please write at least one characteristic of what you saw.");
      inputs[0].focus();
      return;
    }
    act(function () {
      return request("POST", api + round.token + "/characteristics/", { texts: texts })
        .then(function (r) { render(r, false); offerVerification(r.token, 0); })
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
    }, $("send-chars"));
  }

  // --- the optional bonus question after the characteristics (issue 12) --------------------
  // Two labels of the class, usually another player's against one of yours (the server writes
  // the prompt, processing/services/verification.py); points when the answer
  // agrees with the verdict and another player (output agreement). Labels are processed in the
  // background by a worker, so a 204 is asked again after 1.5, 3 and 6 s (about 10 s in all)
  // while the player is still on this round's summary.
  var VERIFY_RETRY_MS = [1500, 3000, 6000];

  function offerVerification(token, attempt) {
    var old = $("verify-box");
    if (old && attempt === 0) old.hidden = true;
    if (attempt > 0 && (!round || round.token !== token)) return;
    request("GET", api + token + "/verification/").then(function (q) {
      if (!q || !q.id) {
        if (attempt < VERIFY_RETRY_MS.length) {
          setTimeout(function () { offerVerification(token, attempt + 1); }, VERIFY_RETRY_MS[attempt]);
        }
        return;
      }
      if (!round || round.token !== token) return;
      var box = $("verify-box");
      if (!box) {
        box = el("section", { id: "verify-box", "class": "verify", "aria-live": "polite" });
        var anchor = $("summary-points");
        anchor.parentNode.insertBefore(box, anchor.nextSibling);
      }
      box.textContent = "";
      box.hidden = false;
      box.appendChild(el("h3", {}, "Bonus question"));
      box.appendChild(el("p", {}, q.prompt));
      box.appendChild(el("p", { "class": "small-print" },
        "+" + q.points + " points if other players agree with you."));
      var row = el("p", { "class": "choices" });
      [["Same thing", true], ["Different", false]].forEach(function (choice) {
        var button = el("button", { type: "button", "aria-pressed": "false" }, choice[0]);
        button.addEventListener("click", function () {
          button.setAttribute("aria-pressed", "true");  // which answer was given stays visible
          answerVerification(box, q.id, choice[1]);
        });
        row.appendChild(button);
      });
      box.appendChild(row);
    }).catch(function () { /* optional: the game goes on without it */ });
  }

  function answerVerification(box, id, same) {
    box.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    var url = api.replace(/rounds\/$/, "verification/") + id + "/";
    request("POST", url, { same: same }).then(function (a) {
      var text = !a.awarded ? "Thanks! You get points once another player agrees with you." :
        a.points ? "Other players agree: +" + a.points + " points." :
        "Other players saw it differently.";
      box.appendChild(el("p", {}, text));
    }).catch(function (err) {
      // not stored: say why and let the player answer again
      box.querySelectorAll("button").forEach(function (b) {
        b.disabled = false;
        b.setAttribute("aria-pressed", "false");
      });
      box.appendChild(el("p", { role: "alert" }, err.message));
    });
  }

  // --- the player: display name, guided first round, points kept after sign-up -------------

  function loadMe() {
    if (!meUrl) return;
    request("GET", meUrl).then(function (me) {
      var p = me && me.player;
      if (!p) return;
      if (p.display_name) $("player-name").textContent = p.display_name;
      var isNew = typeof p.is_new === "boolean" ? p.is_new : p.rounds === 0;
      NS.tour.start(isNew);
      if (round) NS.tour.phase(round.status);
    }).catch(function () { /* the game plays without it */ }).then(function () {
      root.dataset.player = "loaded";
    });
  }

  function showKept() {
    var params = new URLSearchParams(window.location.search);
    var kept = params.get("kept");
    if (kept === null || !/^\d{1,9}$/.test(kept)) return;
    var n = Number(kept);
    $("kept").textContent = "Your " + n + (n === 1 ? " point was" : " points were") + " kept.";
    $("kept").hidden = false;
    params.delete("kept");
    var query = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
  }

  // --- wiring ------------------------------------------------------------------------------

  $("more").addEventListener("click", more);
  $("guess-form").addEventListener("submit", guess);
  $("resign").addEventListener("click", openConfirm);
  $("resign-yes").addEventListener("click", resign);
  $("resign-no").addEventListener("click", function () { closeConfirm(true); });
  $("chars-form").addEventListener("submit", sendCharacteristics);
  $("chars-form").addEventListener("input", function (e) {
    if (!e.target || e.target.name !== "texts") return;
    checkTaboo(e.target);
    checkLength(e.target, true);
    if (round && round.status === "labelling") {
      NS.drafts.save(round.token, charInputs().map(function (i) { return i.value; }));
    }
  });
  $("next").addEventListener("click", start);
  $("next-top").addEventListener("click", start);
  $("restart").addEventListener("click", start);

  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    var tag = (e.target && e.target.tagName) || "";
    if (tag === "INPUT" && e.target.type !== "radio") return;
    if (tag === "TEXTAREA" || tag === "SELECT") return;
    var key = (e.key || "").toLowerCase();
    if (!round) return;
    if (round.status === "active") {
      if (key === "escape") closeConfirm(true);
      else if (tag === "BUTTON" && key === "enter") return; // the focused button acts
      else if (key === "m") { e.preventDefault(); more(); }
      else if (key === "r") { e.preventDefault(); openConfirm(); }
      else if (/^[1-9]$/.test(key)) {
        var radio = $("choice-" + (Number(key) - 1));
        if (radio) { e.preventDefault(); radio.checked = true; radio.focus(); }
      } else if (key === "enter" && selectedChoice()) { e.preventDefault(); guess(); }
    } else if ((round.status === "done" || round.status === "expired") && key === "n") {
      e.preventDefault();
      start(null);
    }
  });

  NS.tour.init();
  showKept();
  loadMe();
  start();
})();

/* Deep Reveal: the guided first round for new players (`player.is_new` from /api/game/me/).
 * One tip per phase (reveal, labelling, summary) in a dismissible panel beside the game; "Skip the
 * tour" or reaching the summary remembers it in localStorage, so it is shown once per browser. */
(function () {
  "use strict";
  var NS = (window.DeepReveal = window.DeepReveal || {});
  var $ = NS.$, el = NS.el;
  var KEY = "netviz.deepReveal.tourDone";

  function para(parts) {
    var p = el("p");
    parts.forEach(function (part) {
      if (typeof part === "string") p.appendChild(document.createTextNode(part));
      else p.appendChild(el(part[0], {}, part[1]));
    });
    return p;
  }

  var TIPS = {
    active: [
      para(["You see only the part of a picture that one group of the network's detectors " +
        "responded to; the rest stays black."]),
      para([["strong", "Show more"], " reveals a little more, up to step 6. A right guess is " +
        "worth fewer points after each step: the line above the buttons says how many."]),
      para(["When you think you know, pick a class and press ", ["strong", "Guess"],
        ". You have one guess."]),
    ],
    labelling: [
      para(["A ", ["strong", "characteristic"], " is something you can see in the revealed part: " +
        "a shape, a part, a colour, a texture."]),
      para(["Good: ", ["q", "pointed ears"], ", ", ["q", "striped fur"], ", ", ["q", "red wheel"],
        ". Not useful: the class's name (it is refused) or ", ["q", "nice picture"], "."]),
    ],
    done: [
      para(["Here is the whole picture, where the network looked, and what other players saw " +
        "there. Your words, with theirs, explain what this part of the network detects."]),
    ],
  };
  var ORDER = ["active", "labelling", "done"];

  var active = false;
  var current = null;
  var acknowledged = {};

  function finish() {
    NS.store.set(KEY, "1");
    active = false;
    hide();
  }

  function hide() {
    current = null;
    $("coach").hidden = true;
  }

  function show(phase) {
    current = phase;
    var body = $("coach-body");
    body.textContent = "";
    TIPS[phase].forEach(function (node) { body.appendChild(node.cloneNode(true)); });
    $("coach-count").textContent = "(" + (ORDER.indexOf(phase) + 1) + " of " + ORDER.length + ")";
    $("coach-ok").textContent = phase === "done" ? "Done" : "Got it";
    $("coach").hidden = false;
  }

  /* Start the tour for a new player who has not finished or skipped it in this browser. */
  function start(isNew) {
    if (!isNew || NS.store.get(KEY) === "1" || !$("coach")) return;
    active = true;
  }

  /* The game moved to round status `phase` ("active", "labelling", "done"). */
  function phase(name) {
    if (!active) {
      if (current) hide();
      return;
    }
    if (name === "done") NS.store.set(KEY, "1"); // seen to the end: not again after a reload
    if (TIPS[name] && !acknowledged[name]) show(name);
    else hide();
  }

  function init() {
    if (!$("coach")) return;
    $("coach-ok").addEventListener("click", function () {
      if (current) acknowledged[current] = true;
      if (current === "done") finish();
      else hide();
    });
    $("coach-skip").addEventListener("click", finish);
  }

  NS.tour = { init: init, start: start, phase: phase, isActive: function () { return active; } };
})();

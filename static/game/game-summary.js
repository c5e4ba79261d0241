/* Deep Reveal: the in-page summary of a finished round (the same content as
 * templates/game/summary.html). Every optional field of the API hides its part when missing. */
(function () {
  "use strict";
  var NS = (window.DeepReveal = window.DeepReveal || {});
  var $ = NS.$, el = NS.el, toggle = NS.toggle, isNumber = NS.isNumber;

  var DEFAULT_CAPTION = "The part of the picture this group of the network's detectors responded to.";

  function outcomeTitle(outcome) {
    if (outcome === "win") return "You won!";
    if (outcome === "loss") return "Not this time";
    return "You resigned";
  }

  function stepNumber(s) {
    return isNumber(s.step_number) ? s.step_number : s.step + 1;
  }

  function stepCount(s) {
    return isNumber(s.step_count) ? s.step_count : 6;
  }

  function addStat(dl, term, value, note, noteClass) {
    var div = el("div");
    div.appendChild(el("dt", {}, term));
    var dd = el("dd", {}, value);
    if (note) {
      dd.appendChild(document.createTextNode(" "));
      dd.appendChild(el("span", { "class": noteClass || "muted" }, note));
    }
    div.appendChild(dd);
    dl.appendChild(div);
  }

  function setFigure(figId, imgId, url, alt) {
    var on = toggle($(figId), !!url);
    var img = $(imgId);
    if (on) {
      img.src = url;
      img.alt = alt;
    } else {
      img.removeAttribute("src");
    }
  }

  function chip(text, attrs) {
    return el("li", attrs || {}, text);
  }

  function pointsNote(s) {
    var parts = [s.points_base + " for the guess", s.points_bonus + " for characteristics"];
    if (isNumber(s.agreement_bonus) && s.agreement_bonus > 0) {
      parts.push(s.agreement_bonus + " for agreeing with other players");
    }
    return "(" + parts.join(" + ") + ")";
  }

  function crowdText(crowd) {
    if (!crowd || !isNumber(crowd.rounds)) return "";
    if (crowd.rounds === 0) return "You are the first player to see this part of the picture.";
    var players = crowd.rounds === 1 ? "other player" : "other players";
    var text = crowd.wins + " of " + crowd.rounds + " " + players + " got it";
    if (isNumber(crowd.mean_win_step_number) && crowd.wins > 0) {
      text += ", on average at step " + crowd.mean_win_step_number.toFixed(1).replace(/\.0$/, "");
    }
    return text + ".";
  }

  function renderOthers(box, s, mine) {
    box.textContent = "";
    if (!Array.isArray(s.others_saw)) return;
    box.appendChild(el("h3", {}, "What other players saw here"));
    if (!s.others_saw.length) {
      // "your words are the first" only when there are words (not after a resign or a skip)
      box.appendChild(el("p", { "class": "muted" }, mine.length ?
        "No one else has described this part yet: your words are the first." :
        "No other player has described this part yet."));
    } else {
      var ul = el("ul", { "class": "chips others" });
      s.others_saw.forEach(function (o) {
        var agree = mine.indexOf(NS.fold(o.text).trim()) >= 0;
        var li = chip(o.text, agree ? { "class": "agree" } : {});
        if (isNumber(o.count) && o.count > 1) li.appendChild(el("span", { "class": "count" }, " ×" + o.count));
        if (agree) li.appendChild(el("span", { "class": "sr-only" }, " (you saw it too)"));
        ul.appendChild(li);
      });
      box.appendChild(ul);
    }
    if (isNumber(s.agreement_bonus) && s.agreement_bonus > 0) {
      box.appendChild(el("p", { "class": "agree-bonus" },
        "+" + s.agreement_bonus + " points: you saw what other players saw."));
    }
  }

  /* Render summary `s` of round `token`; `previousLevel` is the level number shown before the
   * round. Returns {title, announce, levelUp} for the caller's live region. */
  function renderSummary(s, opts) {
    var points = s.points ? " +" + s.points + " points" : "";
    var title = outcomeTitle(s.outcome) + points;
    $("summary-title").textContent = title;

    var answer = "The answer was " + s.answer_label + ".";
    if (s.guess) {
      answer += " You guessed " + s.guess_label + " at step " + stepNumber(s) + " of " + stepCount(s) + ".";
    }
    $("summary-answer").textContent = answer;

    var net = $("summary-network");
    if (toggle(net, s.network_right === false && !!s.network_guess_label)) {
      var words = s.characteristics && s.characteristics.length; // none after a resign
      net.textContent = "Interesting: the network thought it was " + s.network_guess_label +
        ". It got this picture wrong" + (words ? "; your words help show what it looked at instead." : ".");
    }

    var levelNumber = s.level && isNumber(s.level.number) ? s.level.number : null;
    var levelUp = s.level_up === true ||
      (s.level_up === undefined && levelNumber !== null && isNumber(opts.previousLevel) &&
        levelNumber > opts.previousLevel);
    var levelText = levelNumber !== null ? "level " + levelNumber + " · " + s.level.name : "";
    $("level-up").textContent = levelUp ? "Level up! You reached " + levelText + "." : "";

    var dl = $("summary-points");
    dl.textContent = "";
    addStat(dl, "Points this round", String(s.points), pointsNote(s));
    addStat(dl, "Your points", String(s.player_points));
    if (levelNumber !== null) addStat(dl, "Level", levelNumber + " · " + s.level.name);
    // no number for a player the leaderboards leave out (or without points): say so, neutrally
    if (isNumber(s.rank) && s.rank > 0) addStat(dl, "Rank", "#" + s.rank);
    else addStat(dl, "Rank", "Not ranked", s.rank_note || "", "rank-note");

    setFigure("summary-frame-fig", "summary-frame", s.frame_url,
      "What you saw when you guessed: part of the picture, revealed at step " + stepNumber(s));
    setFigure("summary-image-fig", "summary-image", s.image_url, "The full picture: " + s.answer_label);
    setFigure("summary-overlay-fig", "summary-overlay", s.overlay_url,
      "Where this group of the network's detectors responded, highlighted on the picture");
    $("summary-overlay-caption").textContent = s.caption || DEFAULT_CAPTION;

    var details = $("summary-details");
    if (toggle(details, !!s.layer)) {
      var text = "Layer " + s.layer_number + " of " + s.layer_count + " (" + s.layer + ")";
      if (s.depth) text += ", " + s.depth + " in the network";
      if (isNumber(s.weight)) text += "; this cluster of feature maps carries " + s.weight.toFixed(1) + "% of the layer's evidence";
      $("summary-details-text").textContent = text + ".";
    }

    var crowd = $("summary-crowd");
    crowd.textContent = "";
    var ct = crowdText(s.crowd);
    if (ct) {
      crowd.appendChild(el("h3", {}, "How other players did"));
      crowd.appendChild(el("p", {}, ct));
    }

    var mine = (s.characteristics || []).map(function (c) { return NS.fold(c).trim(); });
    var others = (Array.isArray(s.others_saw) ? s.others_saw : []).map(function (o) {
      return NS.fold(o.text).trim();
    });
    var chars = $("summary-chars");
    chars.textContent = "";
    if (s.characteristics && s.characteristics.length) {
      chars.appendChild(el("h3", {}, "What you saw"));
      var ul = el("ul", { "class": "chips" });
      s.characteristics.forEach(function (c) {
        var agree = others.indexOf(NS.fold(c).trim()) >= 0;
        var li = chip(c, agree ? { "class": "agree" } : {});
        if (agree) li.appendChild(el("span", { "class": "sr-only" }, " (other players saw it too)"));
        ul.appendChild(li);
      });
      chars.appendChild(ul);
    }
    renderOthers($("summary-others"), s, mine);

    $("summary-link").href = opts.summaryBase + encodeURIComponent(opts.token) + "/";
    return {
      title: title,
      announce: title + ". " + answer + (levelUp ? " Level up! You reached " + levelText + "." : ""),
      levelUp: levelUp,
    };
  }

  NS.renderSummary = renderSummary;
  NS.outcomeTitle = outcomeTitle;
})();

/* Deep Reveal: small helpers shared by the game's scripts (no build step, no globals but
 * window.DeepReveal). Loaded first; game-summary.js, game-tour.js and game.js use it. */
(function () {
  "use strict";
  var NS = (window.DeepReveal = window.DeepReveal || {});

  function $(id) { return document.getElementById(id); }

  /* An element with attributes and text (never HTML: API texts are shown as text). */
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  /* Show an element when `on`, hide it otherwise; returns `on`. */
  function toggle(node, on) {
    if (node) node.hidden = !on;
    return !!on;
  }

  function isNumber(x) { return typeof x === "number" && isFinite(x); }

  /* JSON over fetch with the CSRF token; a non-2xx answer throws an Error carrying
   * `status` and the answer's body as `data` (the API's {"detail": ..., ...}). */
  function request(method, url, body, csrf) {
    var init = {
      method: method,
      credentials: "same-origin",
      headers: { "Accept": "application/json" },
    };
    if (csrf) init.headers["X-CSRFToken"] = csrf;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (resp) {
      noteServerClock(resp.headers.get("Date"));
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) {
          var err = new Error((data && data.detail) || ("Request failed (" + resp.status + ")."));
          err.status = resp.status;
          err.data = data || {};
          throw err;
        }
        return data;
      });
    });
  }

  /* The server's clock less this one's (ms), from the last answer's Date header (to the
   * second): a round's expires_at, in the server's time, is compared with serverNow(). */
  var clockOffset = 0;
  function noteServerClock(header) {
    var at = header ? Date.parse(header) : NaN;
    if (isNumber(at)) clockOffset = at - Date.now();
  }
  function serverNow() { return Date.now() + clockOffset; }

  /* localStorage that never throws (private modes, disabled storage). */
  var store = {
    get: function (key) {
      try { return window.localStorage.getItem(key); } catch (e) { return null; }
    },
    set: function (key, value) {
      try { window.localStorage.setItem(key, value); } catch (e) { /* not remembered */ }
    },
  };

  /* Drafts of the characteristics being typed, per round (its token), in this tab's
   * sessionStorage: a reload or an accidental navigation keeps them. Only the player's own
   * texts are stored, nothing the server said; game.js forgets a draft once its texts are
   * accepted or its round is over. Never throws (storage off or full: nothing is kept). */
  var DRAFT_PREFIX = "netviz.deepReveal.draft.";
  var drafts = {
    save: function (token, texts) {
      try {
        if (texts.some(function (t) { return t.trim() !== ""; })) {
          window.sessionStorage.setItem(DRAFT_PREFIX + token, JSON.stringify({ texts: texts }));
        } else {
          window.sessionStorage.removeItem(DRAFT_PREFIX + token);
        }
      } catch (e) { /* not kept */ }
    },
    /* The texts of the round's draft, or null (none, or not a list of strings). */
    load: function (token) {
      try {
        var data = JSON.parse(window.sessionStorage.getItem(DRAFT_PREFIX + token) || "null");
        var texts = data && data.texts;
        if (!Array.isArray(texts) || !texts.every(function (t) { return typeof t === "string"; })) return null;
        return texts;
      } catch (e) { return null; }
    },
    /* Forget every draft but the one of round `keep` (null: all of them). */
    forget: function (keep) {
      try {
        var store = window.sessionStorage;
        var kept = keep ? DRAFT_PREFIX + keep : "";
        for (var i = store.length - 1; i >= 0; i--) {
          var key = store.key(i);
          if (key && key.indexOf(DRAFT_PREFIX) === 0 && key !== kept) store.removeItem(key);
        }
      } catch (e) { /* nothing to forget */ }
    },
  };

  /* Whether the device has a keyboard-and-mouse style pointer (keyboard hints are shown then). */
  function hasKeyboard() {
    return !!(window.matchMedia && window.matchMedia("(hover: hover) and (pointer: fine)").matches);
  }

  // --- taboo words (a hint while typing; the server decides) -------------------------------

  function fold(text) {
    var s = String(text || "").toLowerCase();
    if (s.normalize) s = s.normalize("NFD").replace(/[\u0300-\u036f]/g, "");
    return s;
  }

  function escapeRegExp(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

  /* Compiled taboo terms: each matches as a whole word or phrase, with a plural or
   * possessive ending ("cat" matches "cats", "cat's", "Cat"; not "category"). */
  function tabooMatchers(words) {
    var seen = {};
    var out = [];
    (words || []).forEach(function (word) {
      var key = fold(word).trim().replace(/\s+/g, " ");
      if (key.length < 2 || seen[key]) return;
      seen[key] = true;
      var body = key.split(" ").map(escapeRegExp).join("[\\s_-]+");
      out.push({
        word: String(word),
        re: new RegExp("(^|[^a-z0-9])" + body + "(s|es|'s|s')?(?=$|[^a-z0-9])"),
      });
    });
    return out;
  }

  /* The first taboo word the text uses, or null. */
  function tabooHit(text, matchers) {
    var folded = fold(text);
    if (!folded.trim()) return null;
    for (var i = 0; i < matchers.length; i++) {
      if (matchers[i].re.test(folded)) return matchers[i].word;
    }
    return null;
  }

  // --- a characteristic's length, counted as the server counts it ----------------------------

  var EDGES = null;
  try {
    EDGES = new RegExp("^[\\p{P}\\p{S}\\p{Z}]+|[\\p{P}\\p{S}\\p{Z}]+$", "gu");
  } catch (e) { /* no Unicode property escapes: edges are not stripped (counts a little more) */ }

  /* The length the server judges (processing.nlp.clean.normalise): NFKC, lower case, spaces
   * collapsed, punctuation, symbols and spaces at the edges dropped; in code points (Python's
   * len), not UTF-16 units (an emoji is one character, as the server counts it). */
  function charLength(text) {
    var s = String(text || "");
    if (s.normalize) s = s.normalize("NFKC");
    s = s.toLowerCase().replace(/\s+/g, " ").trim();
    if (EDGES) s = s.replace(EDGES, "").replace(/\s+/g, " ").trim();
    return Array.from(s).length;
  }

  NS.$ = $;
  NS.el = el;
  NS.toggle = toggle;
  NS.isNumber = isNumber;
  NS.request = request;
  NS.serverNow = serverNow;
  NS.store = store;
  NS.drafts = drafts;
  NS.hasKeyboard = hasKeyboard;
  NS.tabooMatchers = tabooMatchers;
  NS.tabooHit = tabooHit;
  NS.fold = fold;
  NS.charLength = charLength;
})();

/* A nickname field (the start page, the profile): counts the name as the server does
 * (game.services.players.nickname_clean: spaces collapsed, in code points), shows the count from
 * 10 characters before the limit, says when the name is too long and sends nothing then. The
 * name is never cut (the field has no maxlength); the server refuses a too-long name with the
 * same message. The limit comes from the page (data-max-length: game.rules). */
(function () {
  "use strict";

  function nicknameLength(text) {
    return Array.from(String(text || "").replace(/\s+/g, " ").trim()).length;
  }

  function watch(input) {
    var max = Number(input.dataset.maxLength);
    var counter = document.getElementById(input.id + "-count");
    var error = document.getElementById(input.id + "-error");
    if (!max || !counter || !error) return;

    function check() {
      var n = nicknameLength(input.value);
      return window.NetVizLengthField.show(input, n, max, "Please shorten your nickname.");
    }

    input.addEventListener("input", check);
    if (input.form) {
      input.form.addEventListener("submit", function (event) {
        if (check()) return;
        event.preventDefault(); // the server would refuse it: the field says why
        input.focus();
      });
    }
    check(); // a name shown again after a refusal is counted at once
  }

  document.querySelectorAll("input[name=nickname][data-max-length]").forEach(watch);
  var NS = (window.DeepReveal = window.DeepReveal || {});
  NS.nicknameLength = nicknameLength;
})();

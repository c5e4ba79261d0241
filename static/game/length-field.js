/* A text field with a length limit that is never cut (no maxlength): a counter from COUNT_FROM
 * characters before the limit, and beyond it a message under the field and aria-invalid; the
 * server refuses a too-long text with the same message. Used by the characteristic fields
 * (game.js) and the nickname fields (nickname.js); the length is counted by the caller, as its
 * server counts it. The field's counter and error are the elements #<id>-count, #<id>-error. */
(function () {
  "use strict";
  var COUNT_FROM = 10;

  // Shows n of max on the field; returns whether the text fits.
  function show(input, n, max, tooLongMessage) {
    var over = n > max;
    var counter = document.getElementById(input.id + "-count");
    var error = document.getElementById(input.id + "-error");
    counter.hidden = n < max - COUNT_FROM;
    counter.textContent = n + "/" + max + " characters";
    counter.classList.toggle("over", over);
    if (over) {
      error.textContent = "Too long: " + n + " characters, at most " + max + ". " + tooLongMessage;
      input.setAttribute("aria-invalid", "true");
      input.dataset.tooLong = "1";
    } else if (input.dataset.tooLong) {
      error.textContent = "";
      input.removeAttribute("aria-invalid");
      delete input.dataset.tooLong;
    }
    return !over;
  }

  window.NetVizLengthField = { show: show };
})();

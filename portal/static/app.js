// Small behaviours that htmx does not cover. No inline scripts: the CSP allows only this file.
(function () {
  "use strict";
  // Tell the user when an htmx request could not reach the server; their input stays on the page.
  document.addEventListener("htmx:sendError", function () {
    var flash = document.getElementById("flash");
    if (!flash) return;
    var p = document.createElement("p");
    p.className = "flash flash-error";
    p.setAttribute("role", "alert");
    p.textContent = document.documentElement.lang === "en"
      ? "Could not reach the server. Your answer was not saved; check the connection and try again."
      : "サーバーに接続できませんでした。回答は保存されていません。通信状況を確認して、もう一度お試しください。";
    flash.replaceChildren(p);
  });
})();

// Ticket attachments: refuse oversized or too many files before sending, so that nothing typed is lost
// to a request the server cannot read. The server checks everything again.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[type=file][data-max-bytes]")) return;
    var maxBytes = parseInt(input.dataset.maxBytes, 10);
    var maxFiles = parseInt(input.dataset.maxFiles, 10);
    var maxTotal = parseInt(input.dataset.maxTotal, 10);
    var total = 0;
    var tooLarge = false;
    Array.prototype.forEach.call(input.files, function (file) {
      total += file.size;
      if (file.size > maxBytes) tooLarge = true;
    });
    var bad = tooLarge || input.files.length > maxFiles || (maxTotal > 0 && total > maxTotal);
    input.setCustomValidity(bad ? input.dataset.message : "");
    if (bad) input.reportValidity();
  });
  // The forms are novalidate (the server's messages are clearer), so hold the submission here.
  document.addEventListener("submit", function (event) {
    var input = event.target.querySelector && event.target.querySelector("input[type=file][data-max-bytes]");
    if (input && !input.checkValidity()) {
      event.preventDefault();
      input.reportValidity();
    }
  }, true);
})();
// Print buttons exist only when scripts run; without scripts the page says how to print.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  document.querySelectorAll(".js-print").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
});

// Training: when an answer could not be sent, say so next to the question as well, so the learner
// does not move on believing it was saved.
(function () {
  "use strict";
  document.addEventListener("htmx:sendError", function (event) {
    var form = event.detail && event.detail.elt;
    var status = form && form.querySelector ? form.querySelector("#answer-status") : null;
    if (!status) return;
    status.textContent = document.documentElement.lang === "en"
      ? "Not saved: no connection. Choose again or press the button when you are back online."
      : "保存されていません（通信できませんでした）。通信が戻ったら、もう一度選ぶかボタンを押してください。";
    status.classList.add("field-error");
  });
})();

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

// Print buttons exist only when scripts run; without scripts the page says how to print.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  document.querySelectorAll(".js-print").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
});

// Playground: one submission at a time (the upload may take a moment).
(function () {
  "use strict";
  var form = document.getElementById("stylize");
  if (!form) return;
  form.addEventListener("submit", function () {
    var button = document.getElementById("go");
    // Disabled after this tick, so the submit itself still goes through.
    setTimeout(function () {
      button.disabled = true;
      button.textContent = "Uploading…";
    }, 0);
  });
})();

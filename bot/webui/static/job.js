// Job page: poll the job's JSON about once a second and show position, progress, preview, result.
(function () {
  "use strict";
  var root = document.getElementById("job");
  if (!root) return;
  var url = root.dataset.state;
  function $(id) { return document.getElementById(id); }

  function apply(s) {
    root.dataset.status = s.status;
    root.dataset.finished = s.finished ? "true" : "false";
    $("status").textContent = s.headline;
    var bar = $("bar");
    if (s.total && !s.finished) {
      bar.max = s.total;
      bar.value = s.step;
      bar.hidden = false;
    } else {
      bar.hidden = true;
    }
    var preview = $("preview");
    if (s.preview && preview.getAttribute("src") !== s.preview) {
      preview.src = s.preview;
    }
    $("preview-box").hidden = !s.preview;
    if (s.result && $("result").getAttribute("src") !== s.result) {
      $("result").src = s.result;
      $("download").href = s.download;
    }
    $("result-box").hidden = !s.result;
    $("cancel").hidden = !s.cancellable;
  }

  function poll(delay) {
    setTimeout(function () {
      fetch(url, { cache: "no-store", credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) return;  // gone (purged): keep what is shown
          apply(s);
          if (!s.finished) poll(1000);
        })
        .catch(function () { poll(3000); });  // server restarting: try again
    }, delay);
  }

  if (root.dataset.finished !== "true") poll(1000);
})();

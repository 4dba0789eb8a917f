// Playground: stream the reply into the page as it arrives, then load the usage record.
// Without JavaScript the form posts normally and the page shows the whole reply.
(function () {
  "use strict";
  var form = document.getElementById("playground-form");
  if (!form || !window.fetch || !window.TextDecoder) return;

  form.addEventListener("submit", function (event) {
    var streamBox = document.getElementById("stream-reply");
    if (!streamBox || !streamBox.checked) return; // htmx posts it without streaming
    event.preventDefault();
    event.stopImmediatePropagation();
    run();
  }, true);

  function run() {
    var button = document.getElementById("playground-send");
    var reply = document.getElementById("playground-reply");
    var record = document.getElementById("playground-record");
    reply.textContent = "";
    if (record) record.innerHTML = "";
    button.setAttribute("aria-busy", "true");
    button.disabled = true;
    var requestId = null;
    var token = form.querySelector("[name=csrf_token]");
    fetch(form.dataset.streamUrl, {
      method: "POST",
      body: new FormData(form),
      headers: token ? { "X-CSRFToken": token.value } : {},
      credentials: "same-origin",
    }).then(function (response) {
      requestId = response.headers.get("X-Request-Id");
      if (!response.ok || !response.body) {
        return response.text().then(function (text) {
          reply.textContent = text || ("The call failed (" + response.status + ").");
          reply.classList.add("reply-error");
        });
      }
      reply.classList.remove("reply-error");
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) return;
          reply.textContent += decoder.decode(chunk.value, { stream: true });
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      reply.textContent += "\n[connection lost]";
    }).finally(function () {
      button.removeAttribute("aria-busy");
      button.disabled = false;
      if (requestId && window.htmx) {
        htmx.ajax("GET", form.dataset.recordUrl.replace("__id__", requestId),
                  { target: "#playground-record", swap: "outerHTML" });
      }
    });
  }
})();

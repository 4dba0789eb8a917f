// Switchboard's small amount of JavaScript: notices from HX-Trigger and htmx error feedback.
// No inline scripts anywhere (the Content-Security-Policy forbids them).
(function () {
  "use strict";

  // Notices float at the bottom right; the page gets as much room at its end as they take,
  // so whatever they cover can always be scrolled out from under them.
  function makeRoom() {
    var region = document.getElementById("notices");
    var height = region ? region.offsetHeight : 0;
    document.body.style.paddingBottom = height ? (height + 16) + "px" : "";
  }

  function dismiss(p) {
    p.remove();
    makeRoom();
  }

  // Every notice gets a close button and hides itself (errors stay longer); the timer waits
  // while the pointer or the keyboard focus is on the notice.
  function arm(p, level) {
    if (p.dataset.armed) return;
    p.dataset.armed = "1";
    var text = document.createElement("span");
    text.className = "notice-text";
    while (p.firstChild) text.appendChild(p.firstChild);
    var close = document.createElement("button");
    close.type = "button";
    close.className = "notice-close";
    close.setAttribute("aria-label", "Close this notice");
    close.textContent = "\u00d7";
    close.addEventListener("click", function () { dismiss(p); });
    p.appendChild(text);
    p.appendChild(close);
    var delay = level === "error" ? 12000 : 6000;
    var timer = null;
    function start() { clearTimeout(timer); timer = setTimeout(function () { dismiss(p); }, delay); }
    function hold() { clearTimeout(timer); }
    p.addEventListener("mouseenter", hold);
    p.addEventListener("focusin", hold);
    p.addEventListener("mouseleave", start);
    p.addEventListener("focusout", start);
    start();
    makeRoom();
  }

  function showNotice(message, level) {
    var region = document.getElementById("notices");
    if (!region || !message) return;
    var p = document.createElement("p");
    p.className = "notice notice-" + (level || "info");
    p.textContent = message; // text, never HTML
    region.appendChild(p);
    arm(p, level);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#notices .notice").forEach(function (p) {
      arm(p, p.classList.contains("notice-error") ? "error" : "info");
    });
  });

  document.addEventListener("notice", function (event) {
    var detail = event.detail || {};
    showNotice(detail.message, detail.level);
  });

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.getResponseHeader("HX-Trigger")) return; // the server already sent a notice
    showNotice("The request failed (" + xhr.status + "). Nothing was changed.", "error");
  });

  // Sliders mirror their number input (the number input is the one that is submitted).
  document.addEventListener("input", function (event) {
    var el = event.target;
    if (el.matches && el.matches("input[type=range][data-sync]")) {
      var number = document.getElementById(el.dataset.sync);
      if (number) number.value = el.value;
      el.classList.remove("slider-inherited", "slider-unset");
      el.removeAttribute("aria-valuetext");
    } else if (el.matches && el.matches("input[type=number]")) {
      var slider = document.querySelector('input[type=range][data-sync="' + el.id + '"]');
      if (slider && el.value !== "") slider.value = el.value;
      if (slider) slider.classList.toggle("slider-inherited", el.value === ""); // empty: inherits
    }
  });

  // Create forms with data-slug-from="<field>": the slug follows that field (the name) until
  // someone types into the slug itself.
  function slugify(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9_]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64);
  }
  document.addEventListener("input", function (event) {
    var el = event.target;
    var form = el.form;
    if (!form || !form.dataset || !form.dataset.slugFrom) return;
    var slug = form.elements.namedItem("slug");
    if (!slug) return;
    if (el === slug) {
      slug.dataset.typed = slug.value ? "1" : "";  // emptied: follows the name again
    } else if (el.name === form.dataset.slugFrom && !slug.dataset.typed) {
      slug.value = slugify(el.value);
    }
  });

  document.addEventListener("htmx:sendError", function () {
    showNotice("Switchboard could not be reached. Check your connection and try again.", "error");
  });
})();

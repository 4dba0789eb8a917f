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

  // A link inside a notice goes to a page of this site only (a path, never "//host").
  function sameSitePath(href) {
    return typeof href === "string" && href.charAt(0) === "/" && href.charAt(1) !== "/"
      && href.charAt(1) !== "\\";
  }

  // The message as text nodes; when the server cut it into parts (a hint that names a
  // setting), each part is a text node or a link built here: never parsed as HTML.
  function fill(p, message, parts) {
    if (!Array.isArray(parts) || !parts.length) {
      p.textContent = message;
      return;
    }
    parts.forEach(function (part) {
      var text = String((part && part.text) || "");
      if (part && sameSitePath(part.href)) {
        var a = document.createElement("a");
        a.href = part.href;
        a.textContent = text;
        p.appendChild(a);
      } else {
        p.appendChild(document.createTextNode(text));
      }
    });
  }

  function showNotice(message, level, parts) {
    var region = document.getElementById("notices");
    if (!region || !message) return;
    var p = document.createElement("p");
    p.className = "notice notice-" + (level || "info");
    fill(p, message, parts);
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
    showNotice(detail.message, detail.level, detail.parts);
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

  // Searchable pickers (templates/_macros/picker.html): a click on a match sets the hidden
  // value and the text; emptying the box clears an optional value; leaving the box without
  // choosing puts the chosen record's text back. Changes reach htmx as a "change" event of
  // the hidden input; the search box's own change events stop here.
  function pick(picker, value, label) {
    var hidden = picker.querySelector("input[type=hidden]");
    var search = picker.querySelector("[data-picker-search]");
    var changed = hidden.value !== value;
    hidden.value = value;
    search.value = label;
    picker.dataset.label = label;
    closePicker(picker);
    if (changed) hidden.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function closePicker(picker) {
    picker.querySelector(".picker-results").innerHTML = "";
    picker.querySelector("[data-picker-search]").setAttribute("aria-expanded", "false");
  }

  document.addEventListener("click", function (event) {
    var option = event.target.closest && event.target.closest("[data-pick-value]");
    var picker = option && option.closest("[data-picker]");
    if (!picker) return;
    event.preventDefault();
    pick(picker, option.dataset.pickValue, option.dataset.pickLabel);
  });

  document.addEventListener("mousedown", function (event) { // the box keeps the focus
    if (event.target.closest && event.target.closest("[data-pick-value]")) event.preventDefault();
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("[data-picker-search]")) event.stopPropagation();
  }, true);

  document.addEventListener("input", function (event) {
    var el = event.target;
    if (!(el.matches && el.matches("[data-picker-search]")) || el.value.trim() !== "") return;
    var picker = el.closest("[data-picker]");
    if (picker.dataset.empty) pick(picker, "", "");
  });

  document.addEventListener("keydown", function (event) {
    var el = event.target;
    if (!(el.matches && el.matches("[data-picker-search]"))) return;
    var picker = el.closest("[data-picker]");
    if (event.key === "Enter") { // never submits the form around the picker
      event.preventDefault();
      var first = picker.querySelector("[data-pick-value]");
      if (first) pick(picker, first.dataset.pickValue, first.dataset.pickLabel);
    } else if (event.key === "Escape") {
      closePicker(picker);
    } else if (event.key === "ArrowDown") {
      var option = picker.querySelector("[data-pick-value]");
      if (option) { event.preventDefault(); option.focus(); }
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var list = event.detail.target;
    if (list.classList && list.classList.contains("picker-results")) {
      var search = list.closest("[data-picker]").querySelector("[data-picker-search]");
      search.setAttribute("aria-expanded", list.children.length ? "true" : "false");
    }
  });

  document.addEventListener("focusout", function (event) {
    var picker = event.target.closest && event.target.closest("[data-picker]");
    if (!picker || (event.relatedTarget && picker.contains(event.relatedTarget))) return;
    picker.querySelector("[data-picker-search]").value = picker.dataset.label || "";
    closePicker(picker);
  });

  // A group's checkbox (the model catalog's provider rows) ticks every box of its group.
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (!(el.matches && el.matches("input[data-select-group]"))) return;
    document.querySelectorAll('input[data-group="' + el.dataset.selectGroup + '"]').forEach(
      function (box) { box.checked = el.checked; }
    );
  });

  document.addEventListener("htmx:sendError", function () {
    showNotice("Switchboard could not be reached. Check your connection and try again.", "error");
  });
})();

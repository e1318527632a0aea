// leadhub's small client: inbox polling for new messages, keyboard navigation, clickable rows, "show images",
// "all" checkboxes.
// Served from our own origin (CSP allows no inline scripts and no CDN).
(function () {
  "use strict";

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#inbox-rows tr[data-href]")); }
  var selected = -1;

  function select(index) {
    var all = rows();
    if (!all.length) return;
    selected = Math.max(0, Math.min(index, all.length - 1));
    all.forEach(function (row, i) { row.classList.toggle("selected", i === selected); });
    all[selected].scrollIntoView({ block: "nearest" });
  }

  function poll(body) {
    var url = body.getAttribute("data-poll-url");
    var seconds = parseInt(body.getAttribute("data-poll-seconds") || "5", 10);
    var last = body.innerHTML.trim();
    window.setInterval(function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html === null) return;
          html = html.trim();
          if (html !== last) {
            last = html;
            // The fragment is rendered by our own autoescaping templates.
            body.innerHTML = html;
            selected = -1;
          }
        })
        .catch(function () { /* offline for a moment: try again next tick */ });
    }, Math.max(1, seconds) * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var body = document.getElementById("inbox-rows");
    if (body && body.getAttribute("data-poll-url")) poll(body);

    document.addEventListener("click", function (event) {
      var target = event.target;
      if (target.matches && target.matches("input[type=checkbox][data-check-all]")) {
        // "All" in a list's header ticks or clears every box of that name (mail merge's recipients).
        var name = target.getAttribute("data-check-all");
        document.querySelectorAll("input[type=checkbox]").forEach(function (box) {
          if (box.name === name) box.checked = target.checked;
        });
        return;
      }
      if (target.classList && target.classList.contains("show-images")) {
        var frame = target.closest("article").querySelector("iframe.mail-frame");
        if (frame) {
          event.preventDefault();
          if (target.getAttribute("href")) frame.src = target.getAttribute("href");
          target.removeAttribute("href");  // shown: the link has done its work
          target.setAttribute("aria-disabled", "true");
        }
        return;
      }
      var row = target.closest && target.closest("#inbox-rows tr[data-href]");
      if (row && !target.closest("a")) window.location.href = row.getAttribute("data-href");
    });

    document.addEventListener("keydown", function (event) {
      if (!document.getElementById("inbox-rows")) return;
      var tag = (event.target.tagName || "").toLowerCase();
      if (tag === "input" || tag === "textarea" || tag === "select" || event.altKey || event.ctrlKey || event.metaKey) return;
      var link;
      if (event.key === "j") { select(selected + 1); }
      else if (event.key === "k") { select(selected - 1); }
      else if (event.key === "Enter" && selected >= 0) { window.location.href = rows()[selected].getAttribute("data-href"); }
      else if (event.key === "n" && (link = document.querySelector("a[rel=next]"))) { window.location.href = link.href; }
      else if (event.key === "p" && (link = document.querySelector("a[rel=prev]"))) { window.location.href = link.href; }
      else if (event.key === "/") { event.preventDefault(); document.querySelector("input[name=q]").focus(); }
    });
  });
})();

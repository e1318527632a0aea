/* leadhub form embed: renders the form into <div data-leadhub-form="KEY">, posts JSON, shows errors inline.
   Everything shown is set with textContent (never innerHTML), so no submitted or configured text can run. */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = (script && script.getAttribute("data-leadhub-base")) || "";

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }

  function input(field) {
    if (field.kind === "textarea") return el("textarea", { name: field.name });
    if (field.kind === "select") {
      var select = el("select", { name: field.name });
      select.appendChild(el("option", { value: "" }));
      (field.options || []).forEach(function (o) { select.appendChild(el("option", { value: o }, o)); });
      return select;
    }
    if (field.kind === "email") {
      // Text with the email keyboard, as on the hosted form: browsers hold type="email" invalid for
      // addresses such as иван@почта.рф, which the server reads.
      return el("input", { name: field.name, type: "text", inputmode: "email", autocomplete: "email", value: "" });
    }
    var type = { phone: "tel", checkbox: "checkbox" }[field.kind] || "text";
    return el("input", { name: field.name, type: type, value: type === "checkbox" ? "on" : "" });
  }

  function mount(box) {
    var key = box.getAttribute("data-leadhub-form");
    var url = base + "/f/" + encodeURIComponent(key);
    fetch(url + "/token", { credentials: "omit" }).then(function (r) { return r.json(); }).then(function (info) {
      var form = el("form", { novalidate: "" });
      var errors = {};
      info.fields.forEach(function (field) {
        var label = el("label", {}, field.label + (field.required ? " *" : ""));
        label.appendChild(input(field));
        form.appendChild(label);
        errors[field.name] = form.appendChild(el("p", { "class": "leadhub-error", role: "alert" }));
      });
      if (info.consent_text) {
        var consent = el("label", {});
        consent.appendChild(el("input", { type: "checkbox", name: "consent", value: "on" }));
        consent.appendChild(document.createTextNode(" " + info.consent_text));
        form.appendChild(consent);
        errors.consent = form.appendChild(el("p", { "class": "leadhub-error", role: "alert" }));
      }
      var trap = el("input", { name: "website_url", tabindex: "-1", autocomplete: "off", "aria-hidden": "true" });
      trap.style.position = "absolute"; trap.style.left = "-10000px";
      form.appendChild(trap);
      var status = el("p", { "class": "leadhub-status", role: "status" });
      form.appendChild(el("button", { type: "submit" }, "Send"));
      form.appendChild(status);
      var token = info.token;
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var data = { _ts: token, _page: location.href, _referrer: document.referrer };
        new URLSearchParams(location.search).forEach(function (v, k) { if (k.indexOf("utm_") === 0) data[k] = v; });
        Array.prototype.forEach.call(form.elements, function (e) {
          if (!e.name) return;
          data[e.name] = e.type === "checkbox" ? (e.checked ? "on" : "") : e.value;
        });
        Object.keys(errors).forEach(function (k) { errors[k].textContent = ""; });
        status.textContent = "Sending…";
        fetch(url, {
          method: "POST", credentials: "omit",
          headers: { "Content-Type": "application/json", "Accept": "application/json" },
          body: JSON.stringify(data)
        }).then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
          .then(function (res) {
            if (res.ok) { form.replaceChildren(el("p", { "class": "leadhub-done" }, "Thank you, we received your message.")); return; }
            var fields = res.body.fields || {};
            Object.keys(fields).forEach(function (k) { if (errors[k]) errors[k].textContent = fields[k]; });
            status.textContent = fields._ts ? "Please press Send again." : (res.body.error || "Please check the form.");
            if (fields._ts) fetch(url + "/token").then(function (r) { return r.json(); }).then(function (i) { token = i.token; });
          }).catch(function () { status.textContent = "Could not send; please try again."; });
      });
      box.replaceChildren(form);
    });
  }

  function start() { Array.prototype.forEach.call(document.querySelectorAll("[data-leadhub-form]"), mount); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();

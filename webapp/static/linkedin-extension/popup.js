/* The popup: settings (leadhub address + the rep's token in chrome.storage.local) and the save button. */
"use strict";

var result = document.getElementById("result");

function show(message, ok, link) {
  result.textContent = "";
  result.className = ok ? "" : "error";
  result.append(message || "");
  if (link) {
    var a = document.createElement("a");
    a.href = link;
    a.target = "_blank";
    a.rel = "noopener";
    a.textContent = "Open in leadhub";
    result.append(" — ", a);
  }
}

chrome.storage.local.get(["leadhubUrl", "token"], function (stored) {
  document.getElementById("url").value = stored.leadhubUrl || "";
  document.getElementById("token").value = stored.token || "";
  if (!stored.leadhubUrl || !stored.token) document.getElementById("settings").open = true;
});

document.getElementById("store").addEventListener("click", function () {
  var leadhubUrl = document.getElementById("url").value.trim().replace(/\/+$/, "");
  var token = document.getElementById("token").value.trim();
  var origin;
  try { origin = new URL(leadhubUrl).origin; } catch (e) { show("Enter leadhub's address, e.g. https://leadhub.example.com", false); return; }
  // Ask for access to this one leadhub origin only (optional_host_permissions), not to every site.
  chrome.permissions.request({ origins: [origin + "/*"] }, function (granted) {
    if (!granted) { show("Without access to " + origin + " the extension cannot send profiles.", false); return; }
    chrome.storage.local.set({ leadhubUrl: leadhubUrl, token: token }, function () { show("Settings saved.", true); });
  });
});

document.getElementById("save").addEventListener("click", function () {
  chrome.storage.local.get(["leadhubUrl", "token"], function (stored) {
    if (!stored.leadhubUrl || !stored.token) { show("Fill in the settings first.", false); return; }
    chrome.tabs.query({ active: true, currentWindow: true }, function (tabs) {
      var tab = tabs[0];
      chrome.tabs.sendMessage(tab.id, { type: "leadhub:read-profile" }, function (read) {
        if (chrome.runtime.lastError || !read) { show("Open a LinkedIn profile (linkedin.com/in/…) first.", false); return; }
        if (!read.ok) { show(read.error, false); return; }
        show("Saving " + read.profile.name + "…", true);
        LeadhubSave.saveProfile(stored.leadhubUrl, stored.token, read.profile).then(function (answer) {
          show(answer.ok ? answer.message + ": " + read.profile.name : answer.message, answer.ok, answer.link);
        });
      });
    });
  });
});

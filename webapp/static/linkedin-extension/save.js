/* Sends a profile to leadhub and turns the answer into one line for the rep. Shared by popup and bookmarklet. */
(function (root) {
  "use strict";

  function saveProfile(leadhubUrl, token, profile) {
    var endpoint = String(leadhubUrl).replace(/\/+$/, "") + "/api/v1/linkedin/profiles";
    return fetch(endpoint, {
      method: "POST",
      headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
      body: JSON.stringify(profile),
      credentials: "omit",
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.ok) return { ok: true, message: body.message, link: body.link, body: body };
        if (response.status === 401) return { ok: false, message: "leadhub did not accept your token; create a new one on the install page." };
        var fields = body.fields ? " (" + Object.keys(body.fields).map(function (k) { return k + ": " + body.fields[k]; }).join("; ") + ")" : "";
        return { ok: false, message: (body.error || body.message || ("leadhub answered " + response.status)) + fields };
      });
    }, function () {
      return { ok: false, message: "Could not reach leadhub at " + leadhubUrl + "." };
    });
  }

  root.LeadhubSave = { saveProfile: saveProfile };
})(typeof globalThis !== "undefined" ? globalThis : this);

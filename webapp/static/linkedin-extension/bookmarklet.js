/* The bookmarklet's body (the install page prepends profile_reader.js and save.js and fills in the two
 * values). LinkedIn's content security policy may refuse the request in some browsers: the install page says so
 * and offers the extension, which is not subject to the page's policy. */
(function () {
  var leadhubUrl = __LEADHUB_URL__;
  var token = __LEADHUB_TOKEN__ || window.prompt("Your leadhub token (lh_…)");
  if (!token) return;
  var read = LeadhubProfileReader.readProfile(document, location.href);
  if (!read.ok) { window.alert("leadhub: " + read.error); return; }
  LeadhubSave.saveProfile(leadhubUrl, token, read.profile).then(function (answer) {
    window.alert("leadhub: " + (answer.ok ? answer.message + ": " + read.profile.name + "\n" + answer.link : answer.message));
  });
})();

/* Reads what the rep sees on a LinkedIn profile page (https://www.linkedin.com/in/<name>/).
 *
 * Plain script, no dependencies and no network: the extension's content script, the bookmarklet and the
 * tests (headless Chromium on a saved page) all run this same file. LinkedIn renders most text twice, once
 * for the eye (aria-hidden="true") and once for screen readers (.visually-hidden); we read the first only.
 * Class names change often, so every field has a chain of selectors, newest layout first.
 */
(function (root) {
  "use strict";

  var PROFILE_PATH = /^\/in\/([^/?#]+)/i;

  function clean(text) {
    if (text == null) return "";
    return String(text).replace(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]+/g, " ").replace(/\s+/g, " ").trim();
  }

  function visibleText(element) {
    if (!element) return "";
    var shown = element.querySelector('[aria-hidden="true"]');
    if (shown && clean(shown.textContent)) return clean(shown.textContent);
    var copy = element.cloneNode(true);
    var hidden = copy.querySelectorAll(".visually-hidden, script, style");
    for (var i = 0; i < hidden.length; i++) hidden[i].remove();
    return clean(copy.textContent);
  }

  function first(scope, selectors) {
    for (var i = 0; i < selectors.length; i++) {
      var found = scope.querySelector(selectors[i]);
      if (found && visibleText(found)) return found;
    }
    return null;
  }

  function canonicalUrl(doc, href) {
    var candidates = [];
    var link = doc.querySelector('link[rel="canonical"]');
    if (link && link.getAttribute("href")) candidates.push(link.getAttribute("href"));
    var og = doc.querySelector('meta[property="og:url"]');
    if (og && og.getAttribute("content")) candidates.push(og.getAttribute("content"));
    candidates.push(href);
    for (var i = 0; i < candidates.length; i++) {
      try {
        var url = new URL(candidates[i], href);
        var host = url.hostname.toLowerCase();
        var match = url.pathname.match(PROFILE_PATH);
        if ((host === "linkedin.com" || /\.linkedin\.com$/.test(host)) && match) {
          return "https://www.linkedin.com/in/" + decodeURIComponent(match[1]).toLowerCase() + "/";
        }
      } catch (e) {
        /* not a URL: try the next one */
      }
    }
    return "";
  }

  function section(doc, anchorId) {
    var anchor = doc.getElementById(anchorId);
    if (!anchor) return null;
    return anchor.closest("section") || anchor.parentElement;
  }

  function currentPosition(doc) {
    var experience = section(doc, "experience");
    if (!experience) return { title: "", company: "" };
    var item = experience.querySelector("li.artdeco-list__item, li");
    if (!item) return { title: "", company: "" };
    var title = visibleText(item.querySelector(".t-bold, .mr1.t-bold"));
    var role = item.querySelector("li");
    if (role && visibleText(role.querySelector(".t-bold"))) {
      // Several roles at one company: the company in bold on top ("Budmax", then "Full-time · 5 yrs"), the
      // roles in a list inside the entry, newest first.
      return { title: visibleText(role.querySelector(".t-bold")), company: title };
    }
    // "Budmax · Full-time": the company is before the middle dot.
    var companyLine = visibleText(item.querySelector(".t-14.t-normal:not(.t-black--light), .t-14.t-normal"));
    var company = companyLine.split(" · ")[0];
    return { title: title, company: clean(company) };
  }

  function topCardCompany(topCard) {
    var button = topCard.querySelector('[aria-label^="Current company"], [data-field="experience_company_logo"]');
    if (!button) return "";
    var label = button.getAttribute("aria-label") || "";
    var fromLabel = label.match(/^Current company:\s*(.+?)\.?\s*(Click|$)/);
    return fromLabel ? clean(fromLabel[1]) : visibleText(button);
  }

  function readProfile(doc, href) {
    doc = doc || root.document;
    href = href || (root.location && root.location.href) || "";
    var profileUrl = canonicalUrl(doc, href);
    if (!profileUrl) return { ok: false, error: "This is not a LinkedIn profile page (linkedin.com/in/…)." };
    var topCard = first(doc, ["section.artdeco-card.pv-top-card", ".pv-top-card", "main section"]) || doc;
    var name = visibleText(first(topCard, ["h1.text-heading-xlarge", "h1.inline.t-24", "h1"]));
    if (!name) return { ok: false, error: "Could not find the name on this page; wait until it has loaded." };
    var headline = visibleText(first(topCard, ["div.text-body-medium.break-words", ".pv-text-details__left-panel .text-body-medium"]));
    var location = visibleText(first(topCard, ["span.text-body-small.inline.t-black--light.break-words", ".pv-text-details__left-panel .text-body-small"]));
    var position = currentPosition(doc);
    var company = position.company || topCardCompany(topCard);
    var title = position.title;
    // "Head of Procurement at Budmax | steel", or with "@" (written so in every language).
    var at = / at | @ /i;
    if ((!title || !company) && at.test(headline)) {
      var split = headline.search(at);
      title = title || clean(headline.slice(0, split));
      company = company || clean(headline.slice(split).replace(at, "").split("|")[0]);
    }
    var aboutSection = section(doc, "about");
    var about = aboutSection ? visibleText(aboutSection.querySelector(".inline-show-more-text, .pv-shared-text-with-see-more, .display-flex.full-width")) : "";
    var profile = { profile_url: profileUrl, name: name };
    if (headline) profile.headline = headline.slice(0, 500);
    if (company) profile.company = company.slice(0, 200);
    if (title) profile.title = title.slice(0, 200);
    if (location) profile.location = location.slice(0, 200);
    if (about) profile.about = about.slice(0, 5000);
    return { ok: true, profile: profile };
  }

  var api = { readProfile: readProfile, canonicalUrl: canonicalUrl };
  root.LeadhubProfileReader = api;
  if (typeof module !== "undefined" && module.exports) module.exports = api;
})(typeof globalThis !== "undefined" ? globalThis : this);

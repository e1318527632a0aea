/* Content script on linkedin.com/in/ pages: answers the popup's request with what the page shows. */
chrome.runtime.onMessage.addListener(function (message, _sender, sendResponse) {
  if (message && message.type === "leadhub:read-profile") {
    sendResponse(LeadhubProfileReader.readProfile(document, location.href));
  }
});

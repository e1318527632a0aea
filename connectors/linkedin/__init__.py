"""LinkedIn: reps link their identity over OpenID Connect; profiles arrive from the rep's browser (extension or
bookmarklet → POST /api/v1/linkedin/profiles) and from the rep's own data export. Nothing is pulled on a
schedule (LinkedIn's partner APIs are closed to ordinary apps), so the connector does not sync."""

from __future__ import annotations

from connectors.base import ConfigField, Connector, register


@register
class LinkedInConnector(Connector):
    type = "linkedin"
    title = "LinkedIn"
    description = (
        "Reps sign in with LinkedIn (OpenID Connect), save profiles with the browser extension or bookmarklet, "
        "and import their LinkedIn data export (connections and messages)."
    )
    config_fields = (
        ConfigField("client_id", "Client ID", setting="LINKEDIN_CLIENT_ID",
                    help="From the LinkedIn developer app (Auth tab); needed for rep sign-in only."),
        ConfigField("client_secret", "Client secret", secret=True, setting="LINKEDIN_CLIENT_SECRET"),
    )
    syncs = False

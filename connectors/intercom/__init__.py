"""Intercom: OAuth-installed workspace, back-fill and incremental sync, webhooks, Canvas Kit inbox app, replies."""

from connectors.intercom.connector import IntercomConnector  # noqa: F401  (registers the connector)

"""Where the store keeps personal data of a lead, and what the privacy-law duties do with each table.

core.contacts.export_contact (GDPR art. 15) and erase_contact (art. 17) must reach every table that holds a lead's
data. tests/core/test_personal_data.py walks the models' metadata: a table with a column pointing at contacts, or a
column named like personal data (email, phone, name, payload …), fails it until it is listed here, either as
exported (under which key of the export) and erased, or as exempt with the reason.
"""

from __future__ import annotations

# table -> the key of export_contact's answer that holds its rows; erase_contact deletes them.
EXPORTED_AND_ERASED: dict[str, str] = {
    "contacts": "contact",
    "identities": "contact",  # contact.identities
    "conversations": "conversations",
    "messages": "messages",
    "merge_events": "merge_events",  # with the snapshot undo keeps (the merged contact's fields)
    "duplicate_suggestions": "duplicate_suggestions",
    "stage_changes": "stage_changes",
    "lead_qualifications": "lead_records",
    "lead_scores": "lead_records",
    "webhook_deliveries": "webhook_deliveries",  # events about the lead, sent or waiting to be sent
    "mass_send_recipients": "mass_mail",  # the mail rendered for the lead, with address and name
    "outbox_mail": "mail_sent",  # autoresponders and confirmations sent to the lead's addresses
}

# table -> why export and erase leave it alone (or reach it without listing it).
EXEMPT: dict[str, str] = {
    "users": "leadhub's own users (staff), not leads",
    "api_tokens": "staff credentials",
    "connector_accounts": "a staff mailbox or workspace; sync_state holds provider cursors and message ids "
                          "(no addresses); erase suppresses the messages so a re-read stores nothing",
    "app_settings": "admin settings (company domains, switches)",
    "contact_block_keys": "derived from the name for duplicate search; erased with the contact, not data given",
    "pending_searches": "a contact id waiting for its duplicate search; erased with the contact",
    "suppressions": "SHA-256 hashes of erased identifiers: the mechanism that keeps them out",
    "conversation_reads": "which staff user read a conversation; deleted with the conversation (ON DELETE CASCADE)",
    "webhook_attempts": "delivery attempts; deleted with their delivery (ON DELETE CASCADE)",
    "quarantined_items": "a provider item id and why it could not be read; it names no contact",
    "pending_inbound": "records not yet filed: core.intake files them through ingest, whose suppression check "
                       "drops an erased person's record received before the erasure, and deletes the row",
    "forms": "a form's definition",
    "form_spam_events": "rejected submissions: a hashed IP and the reason, no submitted data",
    "scoring_rulesets": "scoring rules",
    "routing_rules": "routing rules (staff assignees)",
    "webhook_endpoints": "subscriber URLs",
    "sync_runs": "sync bookkeeping of connector accounts",
    "mail_templates": "templates with merge fields, no lead's data",
    "mass_sends": "a send's template copy; the per-lead mail is in mass_send_recipients",
}

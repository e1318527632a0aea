"""Building outgoing mail: a reply in the right thread (In-Reply-To/References), base64url for messages.send."""

from __future__ import annotations

import base64
import email.utils
from email.message import EmailMessage


def build_reply(*, sender: str, to: str, subject: str, text: str, in_reply_to: str = "",
                references: list[str] | None = None, domain: str = "leadhub.local",
                message_id: str = "") -> tuple[EmailMessage, str]:
    """The reply (or, without in_reply_to, a new mail) and its bracket-free Message-ID; pass `message_id` to
    fix it in advance (mass sends look a mail up by it after a crash)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject if subject.lower().startswith("re:") or not in_reply_to else f"Re: {subject}"
    message_id = f"<{message_id.strip('<>')}>" if message_id else email.utils.make_msgid(domain=domain)
    message["Message-ID"] = message_id
    message["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    if in_reply_to:
        message["In-Reply-To"] = f"<{in_reply_to}>"
        chain = [r for r in (references or []) if r != in_reply_to] + [in_reply_to]
        message["References"] = " ".join(f"<{r}>" for r in chain[-20:])
    message.set_content(text)
    return message, message_id.strip("<>")


def new_message_id(domain: str) -> str:
    return email.utils.make_msgid(domain=domain or "leadhub.local").strip("<>")


def encode_raw(message: EmailMessage) -> str:
    return base64.urlsafe_b64encode(message.as_bytes()).decode()

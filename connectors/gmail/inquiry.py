"""Inquiry detection: a pure, explainable decision per message (the reason is stored in Message.meta)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from connectors.gmail.mime import ParsedMail

_NO_REPLY = re.compile(r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply|mailer[-_.]?daemon|postmaster|bounces?)([+\-_.].*)?$",
                       re.IGNORECASE)
_BULK_PRECEDENCE = {"bulk", "list", "junk"}
# Out-of-office and other auto-replies that carry no Auto-Submitted header (Exchange's and many hosted mailers'),
# told by the subject their software writes, in English, Polish, Russian and German.
_AUTO_REPLY_SUBJECT = re.compile(
    r"(?i)^\s*(automatic reply|auto[- ]?reply|auto[- ]?response|out of (the )?office|abwesenheitsnotiz"
    r"|automatyczna odpowied[zź]|odpowied[zź] automatyczna|nieobecno[sś][cć]|autoodpowied[zź]"
    r"|автоматический ответ|автоответ|вне офиса)\b")


@dataclass(frozen=True)
class InquiryRules:
    company_domains: frozenset[str] = frozenset()
    only_labels: frozenset[str] = frozenset()  # empty: any label
    mailbox_address: str = ""

    @classmethod
    def build(cls, company_domains: Iterable[str] = (), only_labels: Iterable[str] = (), mailbox: str = "") -> InquiryRules:
        domains = {d.strip().lower().lstrip("@") for d in company_domains if d and d.strip()}
        if mailbox and "@" in mailbox:
            domains.add(mailbox.rsplit("@", 1)[1].lower())
        return cls(frozenset(domains), frozenset(lb.strip() for lb in only_labels if lb.strip()), mailbox.lower())


@dataclass(frozen=True)
class Decision:
    direction: str  # in | out
    is_inquiry: bool
    reason: str
    counterparts: list[tuple[str, str]] = field(default_factory=list)  # (name, address) of the outside party


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[1].lower() if "@" in address else ""


def _is_own(address: str, rules: InquiryRules) -> bool:
    domain = _domain(address)
    if rules.mailbox_address and address.lower() == rules.mailbox_address:
        return True
    return bool(domain) and any(domain == d or domain.endswith("." + d) for d in rules.company_domains)


def bulk_reason(mail: ParsedMail) -> str:
    """Why this looks like bulk or automated mail; '' when it does not."""
    headers = mail.headers
    if headers.get("list-unsubscribe"):
        return "bulk: List-Unsubscribe header"
    if headers.get("list-id"):
        return "bulk: List-Id header"
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return f"bulk: Precedence: {precedence}"
    auto = headers.get("auto-submitted", "").strip().lower()
    if auto and auto != "no":
        return f"automated: Auto-Submitted: {auto}"
    for name in ("x-autoreply", "x-autorespond"):
        if headers.get(name):
            return f"automated: {name.title()} header"
    if _AUTO_REPLY_SUBJECT.match(mail.subject or ""):
        return f"automated: auto-reply subject {mail.subject[:60]!r}"
    if "report-type=delivery-status" in headers.get("content-type", "").lower().replace(" ", ""):
        return "bounce: delivery status report"
    sender = mail.sender.address if mail.sender else ""
    local = sender.split("@", 1)[0]
    if local and _NO_REPLY.match(local):
        return f"automated: no-reply sender {sender}"
    if headers.get("return-path", "").strip() in ("<>", ""):
        if "x-failed-recipients" in headers:
            return "bounce: X-Failed-Recipients"
    return ""


def classify(mail: ParsedMail, rules: InquiryRules, labels: Iterable[str] = ()) -> Decision:
    """Is this message an inquiry (a new or existing lead writing in)? Always says why."""
    labels = set(labels)
    sender = mail.sender.address if mail.sender else ""
    if sender and _is_own(sender, rules) or "SENT" in labels:
        outside = [(a.name, a.address) for a in [*mail.to, *mail.cc] if not _is_own(a.address, rules)]
        if not outside:
            return Decision("out", False, "internal: every recipient is in the company's domains")
        return Decision("out", False, "outbound: attaches to existing leads only", outside)
    if not sender:
        return Decision("in", False, "no sender address")
    counterpart = [(mail.sender.name if mail.sender else "", sender)]
    reason = bulk_reason(mail)
    if reason:
        return Decision("in", False, reason, counterpart)
    if rules.only_labels and not (rules.only_labels & labels):
        return Decision("in", False, f"label filter: none of {sorted(rules.only_labels)}", counterpart)
    return Decision("in", True, f"inquiry: inbound from outside domain {_domain(sender)}", counterpart)

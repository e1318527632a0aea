"""Inquiry detection: a pure, explainable decision per message (the reason is stored in Message.meta)."""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from connectors.gmail.mime import Address, ParsedMail
from core.normalize import ascii_host, is_role_localpart

# A no-reply word anywhere in the local part ("forms-receipts-noreply@google.com", "messages-noreply@"), or a
# mail server's own address.
_NO_REPLY = re.compile(r"^(?:.*[+\-_.])?(no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply)(?:[+\-_.].*)?$"
                       r"|^(mailer[-_.]?daemon|postmaster|bounces?)([+\-_.].*)?$", re.IGNORECASE)
# Form services' and notifiers' senders that do not say "no-reply" (Squarespace's form-submission@, Netlify's
# formresponses@, Tilda's robot@, Zoho's notification@): machines, never the person writing in.
_SERVICE_SENDER = re.compile(r"(?i)^(?:.*[+\-_.])?(notifications?|notify|notifier|forms?|form[-_.]?submissions?"
                             r"|form[-_.]?responses?|formresponses|submissions?|robot|automailer)(?:[+\-_.\d].*)?$")
# Hosted form services that mail a site's submissions (their notification names the visitor in Reply-To or in the
# body). A sender at one of these domains is the service, never a lead.
FORM_SERVICE_DOMAINS = frozenset({
    "webflow.com", "squarespace.info", "squarespace.com", "wix.com", "crm.wix.com", "wixforms.com", "typeform.com",
    "typeform.io", "jotform.com", "formspree.io", "netlify.com", "tilda.ws", "tilda.cc", "zohoforms.com",
    "cognitoforms.com", "formstack.com", "123formbuilder.com", "paperform.co", "tally.so", "getform.io",
    "formcarry.com", "usebasin.com", "fillout.com", "framer.com", "carrd.co", "unbounce.com", "leadpages.net",
    "hsforms.com", "hubspot.com", "mailchimp.com", "getresponse.com", "elementor.com", "forms.app",
})
_BULK_PRECEDENCE = {"bulk", "list", "junk"}
# Mailing-list software's headers besides List-Id and List-Unsubscribe (RFC 2369's List-Post, ezmlm's
# Mailing-List, Mailman 2.0, which sent digests without List-Id).
_LIST_HEADERS = ("list-post", "mailing-list", "x-mailing-list", "x-mailman-version")
# A list's robot addresses: owner-ppp@, ppp-request@, ppp-bounces@ (in From), and -admin/-owner too (in Sender,
# which list servers set to themselves while From keeps the member who wrote).
_LIST_ROBOT_FROM = re.compile(r"(?i)^(owner-.+|.+-(request|bounces?))([+=].*)?$")
_LIST_ROBOT_SENDER = re.compile(r"(?i)^(owner-.+|.+-(request|bounces?|owner|admin))([+=].*)?$")
# Non-delivery reports that are not multipart/report (RFC 6522): told by the name or subject the mail server
# writes (sendmail, Postfix, Exchange, qmail; Exchange's Polish, Russian, German and French subjects). Anchored: "Re: Undeliverable"
# is a person writing.
_BOUNCE_NAME = re.compile(r"(?i)^\s*(mail delivery (subsystem|system|service)|mailer[- ]daemon|postmaster"
                          r"|mail administrator)\s*$")
_BOUNCE_SUBJECT = re.compile(
    r"(?i)^\s*(undeliverable:|undelivered mail returned to sender|delivery status notification \((failure|delay)\)"
    r"|returned mail:|mail delivery failed|failure notice$|niedostarczalne:|недоставляемое:|unzustellbar:"
    r"|non remis\s?:)")
_CONTENT_TYPE = re.compile(r"(?i)^\s*multipart/report\b")
_REPORT_TYPE = re.compile(r'(?i)\breport-type\s*=\s*"?([\w.-]+)')
# Out-of-office and other auto-replies that carry no Auto-Submitted header (Exchange's and many hosted mailers'),
# told by the subject their software writes, in English, Polish, Russian and the languages below.
_AUTO_REPLY_SUBJECT = re.compile(
    r"(?i)^\s*(automatic reply|auto[- ]?reply|auto[- ]?response|out of (the )?office|abwesenheitsnotiz"
    r"|automatyczna odpowied[zź]|odpowied[zź] automatyczna|nieobecno[sś][cć]|autoodpowied[zź]"
    r"|автоматический ответ|автоответ|вне офиса"
    # Exchange writes "Automatic reply:" in the absent person's language: Ukrainian, German, French, Spanish, Italian,
    # Czech (the first users' neighbours and partners).
    r"|автоматична відповідь|автовідповідь|automatische antwort|réponse automatique|respuesta automática"
    r"|risposta automatica|automatická odpověď)\b")

# Read receipts sent as plain text, not as a disposition-notification report (RFC 8098): Outlook and Exchange write
# them so to servers outside their organisation. Told by Exchange's content-class, else by the subject their
# software writes in the reader's language ("Read:", "Not read:" …) together with the body's sentence ("Your message
# … was read on …"): the subject alone is a person's too ("Read: our new offer").
_RECEIPT_CONTENT_CLASS = re.compile(r"(?i)^\s*urn:content-classes:mdn\b")
_RECEIPT_SUBJECT = re.compile(
    r"(?i)^\s*(read|not read|przeczytan[aeo]|przeczytano|nieprzeczytan[aeo]|прочитано|не прочитано|прочитане"
    r"|gelesen|ungelesen|lu|non lu|přečteno|nepřečteno|leído|no leído|letto|non letto)\s?:")
_RECEIPT_BODY = re.compile(
    r"(?is)^\s*(your message|wiadomość|wiadomosc|ваше сообщение|ваше повідомлення|ihre nachricht|votre message"
    r"|vaše zpráva|su mensaje|il messaggio)\b.{0,2000}?"
    r"(was read on|was deleted without being read|została przeczytana|zostala przeczytana|została usunięta bez"
    r"|было прочитано|удалено без прочтения|було прочитано|wurde am\b.{0,60}?gelesen|wurde\b.{0,60}?ungelesen gelöscht"
    r"|a été lu|a été supprimé sans avoir été lu|byla přečtena|fue leído|è stato letto)")


# A consumer Google account's mailbox (the Gmail API serves these and Workspace domains): its domain is shared by
# everyone with a Gmail address, never a company's.
GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})

# Mail in spam or the bin, and drafts (unsent, perhaps never sent), are nobody writing in nor a reply made.
# messages.list leaves spam and the bin out by default, but lists drafts, and history.list reports all three.
EXCLUDED_LABELS = frozenset({"SPAM", "TRASH", "DRAFT"})


@dataclass(frozen=True)
class InquiryRules:
    company_domains: frozenset[str] = frozenset()
    only_labels: frozenset[str] = frozenset()  # empty: any label
    mailbox_address: str = ""

    @classmethod
    def build(cls, company_domains: Iterable[str] = (), only_labels: Iterable[str] = (), mailbox: str = "") -> InquiryRules:
        domains = {ascii_domain(d.strip().lstrip("@")) for d in company_domains if d and d.strip().lstrip("@")}
        if mailbox and "@" in mailbox and ascii_domain(mailbox.rsplit("@", 1)[1]) not in GMAIL_DOMAINS:
            # A Workspace mailbox's domain is the company's; a consumer Gmail mailbox's is everyone's.
            domains.add(ascii_domain(mailbox.rsplit("@", 1)[1]))
        return cls(frozenset(domains), frozenset(lb.strip() for lb in only_labels if lb.strip()), mailbox.lower())


@dataclass(frozen=True)
class Decision:
    direction: str  # in | out
    is_inquiry: bool
    reason: str
    counterparts: list[tuple[str, str]] = field(default_factory=list)  # (name, address) of the outside party


def ascii_domain(domain: str) -> str:
    """A domain in the one form its Unicode and ASCII spellings share: "łódź.pl" and "XN--D-UGA0V4H.PL" are both
    "xn--d-uga0v4h.pl" (UTS #46 without transitional mapping, IDNA 2008, as browsers and mail servers resolve it:
    "straße.de" is not "strasse.de"). ASCII is lowercased as it is; a name IDNA refuses is compared as typed."""
    domain = domain.strip().rstrip(".")
    try:
        return ascii_host(domain)
    except ValueError:  # (idna.IDNAError is one)
        return domain.lower()


def _domain(address: str) -> str:
    return ascii_domain(address.rsplit("@", 1)[1]) if "@" in address else ""


def _mailbox_key(address: str) -> str:
    """An address as its mailbox: Gmail ignores dots and +tags in its own addresses' local part."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not at:
        return address.strip().lower()
    domain = ascii_domain(domain)
    if domain in GMAIL_DOMAINS:
        return f"{local.split('+', 1)[0].replace('.', '')}@gmail.com"
    return f"{local}@{domain}"


def _is_own(address: str, rules: InquiryRules) -> bool:
    domain = _domain(address)
    if rules.mailbox_address and _mailbox_key(address) == _mailbox_key(rules.mailbox_address):
        return True
    return bool(domain) and any(domain == d or domain.endswith("." + d) for d in rules.company_domains)


def bulk_reason(mail: ParsedMail) -> str:
    """Why this looks like bulk or automated mail; '' when it does not."""
    headers = mail.headers
    if headers.get("list-unsubscribe"):
        return "bulk: List-Unsubscribe header"
    if headers.get("list-id"):
        return "bulk: List-Id header"
    for name in _LIST_HEADERS:
        if headers.get(name):
            return f"bulk: {name.title()} header"
    list_sender = email.utils.parseaddr(headers.get("sender", ""))[1]
    if "@" in list_sender and _LIST_ROBOT_SENDER.match(list_sender.split("@", 1)[0]):
        return f"bulk: list server in Sender ({list_sender})"
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
    if _RECEIPT_CONTENT_CLASS.match(headers.get("content-class", "")):
        return "automated: read receipt (Content-Class: urn:content-classes:MDN)"
    content_type = headers.get("content-type", "")
    if _CONTENT_TYPE.match(content_type):  # RFC 6522: machine-made, whatever it reports
        report = _REPORT_TYPE.search(content_type)
        kind = report.group(1).lower() if report else ""
        return "bounce: delivery status report" if kind == "delivery-status" else f"automated: report {kind or '(no type)'}"
    if _RECEIPT_SUBJECT.match(mail.subject or "") and _RECEIPT_BODY.match((mail.text or "")[:3000]):
        return f"automated: read receipt, subject {mail.subject[:60]!r}"
    if _BOUNCE_SUBJECT.match(mail.subject or ""):
        return f"bounce: non-delivery subject {mail.subject[:60]!r}"
    sender = mail.sender.address if mail.sender else ""
    local = sender.split("@", 1)[0]
    if local and _NO_REPLY.match(local):
        return f"automated: no-reply sender {sender}"
    if local and (_SERVICE_SENDER.match(local) or _form_service(sender)):
        return f"automated: notification sender {sender}"
    if local and _LIST_ROBOT_FROM.match(local):
        return f"bulk: list server address {sender}"
    if mail.sender and _BOUNCE_NAME.match(mail.sender.name or ""):
        return f"bounce: sent by {mail.sender.name!r}"
    if headers.get("return-path", "").strip() in ("<>", ""):
        if "x-failed-recipients" in headers:
            return "bounce: X-Failed-Recipients"
    return ""


# Reasons bulk_reason gives an auto-reply (an out-of-office): machine-written, but by a person's mailbox, about that
# person (away until …, write to …). It is theirs: it attaches to their lead if they are one, never makes one.
AUTO_REPLY_REASONS = ("automated: Auto-Submitted: auto-replied", "automated: X-Autoreply", "automated: X-Autorespond",
                      "automated: auto-reply subject")


def is_auto_reply(decision: Decision) -> bool:
    """An auto-reply from a person's own address (not a no-reply or notifier's, whose auto-replies are nobody's)."""
    return (decision.direction == "in" and decision.reason.startswith(AUTO_REPLY_REASONS)
            and bool(decision.counterparts) and not _is_machine(decision.counterparts[0][1]))


def form_notification(mail: ParsedMail, rules: InquiryRules, labels: set[str]) -> tuple[str, str] | None:
    """The visitor of a website form whose notification this is, or None. Site forms mail the sales inbox from
    the company's own server (wordpress@, forms@ …) or from a form service's no-reply address, with the
    visitor in Reply-To: the visitor is the inquiry, not the sender. A form service's mail counts only when the
    visitor is a person outside the service's domain (a shop's 'noreply@' with 'Reply-To: support@shop' is not a
    form), and never list mail."""
    if "SENT" in labels or not mail.sender or _mailbox_key(mail.sender.address) == _mailbox_key(rules.mailbox_address):
        return None
    if mail.headers.get("list-unsubscribe") or mail.headers.get("list-id"):
        return None
    outside = [a for a in mail.reply_to if a.address and "@" in a.address and not _is_own(a.address, rules)]
    if not outside:
        return _visitor_in_body(mail, rules)
    sender, visitor = mail.sender.address, outside[0]
    if _is_own(sender, rules):
        # A Google Group of the company (sales@) rewrites From to itself as "'Jan Kowalski' via Sales", the
        # person in Reply-To, often without a name.
        via = _VIA_GROUP.match(mail.sender.name or "")
        return visitor.name or (via.group(1) if via else ""), visitor.address
    if (_is_machine(sender) and _domain(visitor.address) != _domain(sender)
            and not is_role_localpart(visitor.address.split("@", 1)[0])):
        return visitor.name, visitor.address
    return None


_VIA_GROUP = re.compile(r"(?i)^\s*'?(.+?)'?\s+via\s+\S.*$")


def _form_service(address: str) -> bool:
    domain = _domain(address)
    return any(domain == d or domain.endswith("." + d) for d in FORM_SERVICE_DOMAINS)


def _is_machine(address: str) -> bool:
    """A no-reply, notifier or form-service sender: what a hosted form's notification comes from."""
    local = address.split("@", 1)[0]
    return bool(_NO_REPLY.match(local) or _SERVICE_SENDER.match(local) or _form_service(address))


# The company's own site software mailing a form (WordPress and its form plugins, a shop, a CMS): some of them
# (Gravity Forms by default) send no Reply-To, and the visitor's address is only in the body.
_SITE_SENDER = re.compile(r"(?i)^(wordpress|wp|forms?|formularz\w*|website|site|www|www-data|web|apache|nginx|cms"
                          r"|shop|sklep|strona|powiadomienia|notifications?|contact-?form)([+\-_.].*)?$")


def _visitor_in_body(mail: ParsedMail, rules: InquiryRules) -> tuple[str, str] | None:
    """The visitor of a form notification without a Reply-To, from the company's own site software or a hosted
    form service: the "E-mail:" line of its body, with at least one more field of the form (a colleague's mail
    quoting an address is not)."""
    sender = mail.sender.address if mail.sender else ""
    local = sender.split("@", 1)[0]
    own_site = _is_own(sender, rules) and (_SITE_SENDER.match(local) or _NO_REPLY.match(local))
    if not (own_site or _form_service(sender)):  # (another firm's site mail is theirs, not our form)
        return None
    fields = form_fields(mail.text)
    address = email.utils.parseaddr(fields.get("email", ""))[1]
    if "@" not in address or _is_own(address, rules) or len(fields) < 2:
        return None
    return fields.get("name", ""), address


def _sending_address(mail: ParsedMail) -> str:
    """Who sent the message: with several authors in From, the mailbox Sender names (RFC 5322 3.6.2: required
    then, and it names the one who transmitted it); else From's (first) address."""
    if len(mail.authors) > 1 and mail.sent_by is not None:
        return mail.sent_by.address
    return mail.sender.address if mail.sender else ""


# A supplier's mail a colleague passes on is not an inquiry: its billing department's (an invoice, a payment
# reminder) or its marketing's (a newsletter, an offer), told by the address it comes from, in English, Polish and
# Russian (transliterated, as such addresses are written: schet@, buhgalteria@). A client's "info@" or "biuro@"
# writing in is still a client.
_VENDOR_SENDER = re.compile(
    r"(?i)^(?:.*[+\-_.])?(billing|invoices?|invoicing|e-?invoices?|faktur[ay]?|e-?faktur[ay]?|fakturowanie|rachunki"
    r"|ksiegowosc|accounting|rechnung(en)?|accounts?[-_.]?(receivable|payable)|payments?|platnosci|oplat[ay]"
    r"|receipts?|statements?|schet|scheta|buh|buhgalteri[ay]"
    r"|bukhgalteriya|newsletters?|news|marketing|promo|promotions?|mailing|mailings|digest|campaigns?|rassylka"
    r"|biuletyn)(?:[+\-_.\d].*)?$")
# A newsletter's footer, which an inline forward keeps when its headers (List-Unsubscribe) are not shown: the
# unsubscribe line in English, Polish and Russian, at the end of the forwarded text.
_UNSUBSCRIBE_TEXT = re.compile(
    r"(?i)\b(unsubscribe|opt[- ]out|manage (your )?(e-?mail |subscription )?preferences|wypisz się|wypisać się"
    r"|wypisania|zrezygnuj z (subskrypcji|newslettera|otrzymywania)|rezygnacja z (subskrypcji|newslettera)"
    r"|wyrejestruj|отписаться|отпишитесь|отписки|отказаться от (рассылки|подписки))")


def forwarded_vendor_reason(inner: ParsedMail) -> str:
    """Why a message forwarded to the mailbox is a supplier's or a machine's, not a client's inquiry; '' when it is
    not: bulk or automated by its own headers or sender (bulk_reason), a billing or marketing address, or a
    newsletter's unsubscribe line at the end of its text."""
    reason = bulk_reason(inner)
    if reason:
        return reason
    address = inner.sender.address if inner.sender else ""
    if _VENDOR_SENDER.match(address.split("@", 1)[0]):
        return f"vendor: billing or marketing sender {address}"
    if _UNSUBSCRIBE_TEXT.search((inner.text or "")[-3000:]):
        return "bulk: unsubscribe line in the forwarded text"
    return ""


def _forwarded_inquiry(mail: ParsedMail, rules: InquiryRules, labels: set[str],
                       acting: str) -> tuple[Address | None, str]:
    """The outside author of mail a colleague forwarded to the mailbox (attached as message/rfc822, or inline in
    the text), or None, with why not when the forward was a supplier's or a machine's mail. The colleague's own
    mail is internal, but the inquiry it carries is the author's: without this it was left out, and the lead never
    made. Not the rep's own forwards (they sent it), not a supplier's or machine-made mail forwarded (a newsletter,
    an invoice, a bounce), not an automated message of the colleague's (a bounce carries the mail it returns)."""
    if not mail.forwarded or "SENT" in labels or not acting or not _is_own(acting, rules):
        return None, ""
    if _mailbox_key(acting) == _mailbox_key(rules.mailbox_address) or bulk_reason(mail):
        return None, ""
    not_inquiry = ""
    for inner in mail.forwarded:
        author = inner.sender
        if not author or "@" not in author.address or _is_own(author.address, rules):
            continue
        reason = forwarded_vendor_reason(inner)
        if not reason:
            return author, ""
        not_inquiry = not_inquiry or f"{reason} (forwarded by {acting})"
    return None, not_inquiry


def classify(mail: ParsedMail, rules: InquiryRules, labels: Iterable[str] = ()) -> Decision:
    """Is this message an inquiry (a new or existing lead writing in)? Always says why."""
    labels = set(labels)
    excluded = sorted(labels & EXCLUDED_LABELS)
    if excluded:
        return Decision("in", False, f"excluded: in {excluded[0]}")
    visitor = form_notification(mail, rules, labels)
    if visitor is not None:
        where = " in Reply-To" if any(a.address == visitor[1] for a in mail.reply_to) else "'s address in the body"
        return Decision("in", True, f"inquiry: form notification from {mail.sender.address if mail.sender else ''}, "
                                    f"the visitor{where}", [visitor])
    acting = _sending_address(mail)
    forwarded, not_inquiry = _forwarded_inquiry(mail, rules, labels, acting)
    if forwarded is not None:
        return Decision("in", True, f"inquiry: forwarded by {acting}, written by {forwarded.address}",
                        [(forwarded.name, forwarded.address)])
    if acting and _is_own(acting, rules) or "SENT" in labels:
        # (Bcc too: the rep's mail to a client in Bcc only, To 'undisclosed-recipients:;', went to the client.)
        outside = [(a.name, a.address) for a in [*mail.to, *mail.cc, *mail.bcc] if not _is_own(a.address, rules)]
        if not outside:
            # (A supplier's mail a colleague forwarded says why it is not the supplier's inquiry.)
            return Decision("out", False, f"internal: {not_inquiry}" if not_inquiry
                            else "internal: every recipient is in the company's domains")
        return Decision("out", False, "outbound: attaches to existing leads only", outside)
    # Sent from outside: the lead is the outside author who sent it, or the first outside one (a rep listed as
    # co-author in From does not make a client's mail the rep's).
    author = next((a for a in ([mail.sender] if mail.sender else []) + mail.authors
                   if not _is_own(a.address, rules)), None)
    sender = author.address if author else acting
    if not sender:
        return Decision("in", False, "no sender address")
    counterpart = [(author.name if author else (mail.sent_by.name if mail.sent_by else ""), sender)]
    reason = bulk_reason(mail)
    if reason:
        return Decision("in", False, reason, counterpart)
    if mail.calendar_method == "REPLY":
        # An invitee answering the rep's invitation ("Accepted: Demo"): the invitee's own act, on a lead's timeline
        # if they are one; but answering is not writing in (a colleague or partner on the invitation is no lead).
        return Decision("in", False, "calendar: invitation reply (METHOD:REPLY), attaches to a known lead only",
                        counterpart)
    if rules.only_labels and not (rules.only_labels & labels):
        return Decision("in", False, f"label filter: none of {sorted(rules.only_labels)}", counterpart)
    written = sender.rsplit("@", 1)[-1].lower()  # (as the mail writes it, for the rep to read)
    return Decision("in", True, f"inquiry: inbound from outside domain {written}", counterpart)


# What a form notification's "Label: value" lines are called, in English, Polish and Russian (folded to lower case).
_FORM_LABELS = {
    "name": ("name", "full name", "your name", "imię i nazwisko", "imie i nazwisko", "imię", "imie", "имя", "фио",
             "имя и фамилия"),
    "phone": ("phone", "phone number", "telephone", "tel", "tel.", "mobile", "telefon", "nr telefonu",
              "numer telefonu", "telefon kontaktowy", "телефон", "тел", "тел."),
    "company": ("company", "company name", "organization", "organisation", "firma", "nazwa firmy", "компания",
                "организация", "название компании"),
    "email": ("email", "e-mail", "e-mail address", "email address", "your email", "your e-mail", "adres e-mail",
              "adres email", "e-mail kontaktowy", "почта", "эл. почта", "электронная почта", "e-mail адрес"),
    "message": ("message", "your message", "wiadomość", "wiadomosc", "treść", "tresc", "treść wiadomości",
                "сообщение", "комментарий", "вопрос"),
}
_FIELD_BY_LABEL = {label: field for field, labels in _FORM_LABELS.items() for label in labels}
# "Label: value", and the other separators form mailers write: "Label | value", "Label = value", a tab.
_LABEL_LINE = re.compile(r"^\s*([^:|=\t\n]{1,40}?)\s*(?::|\s\|\s|\s=\s|\t)\s*(.+?)\s*$", re.MULTILINE)


def form_fields(text: str) -> dict[str, str]:
    """Name, phone, company, e-mail and message from a form notification's body (the first of each; a message's
    first line only): "Label: value" lines ("|", "=" or a tab between them too, bullets before), or a line that
    is only the label with the value on the next one, as the HTML tables of WordPress form plugins read as text
    ("E-mail" / "ola@zima.pl")."""
    found: dict[str, str] = {}
    lines = [line.strip() for line in (text or "").splitlines()[:400] if line.strip()]
    for i, line in enumerate(lines):
        alone = _form_field(line.rstrip(":"))
        if alone:
            after = lines[i + 1] if i + 1 < len(lines) else ""
            if after and not _form_field(after.rstrip(":")):
                found.setdefault(alone, after[:200])
            continue
        labelled = _LABEL_LINE.match(line)
        field = _form_field(labelled.group(1)) if labelled else None
        if field:
            found.setdefault(field, labelled.group(2)[:200])
    return found


def _form_field(label: str) -> str | None:
    """The field a label names, past bullets and emphasis ("* Name", "- E-mail", "**Telefon**")."""
    return _FIELD_BY_LABEL.get(label.strip().lstrip("-•·>").strip().strip("*_").strip().casefold())

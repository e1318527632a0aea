"""Demo data for the embedded default: a few dozen inquiries in Polish, English and Russian over every channel,
with cross-channel duplicates, all stored through the real ingest path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from sqlmodel import Session, select

from core.ingest import IngestOptions, ingest
from core.models import AppSetting, Contact, Form, Role, User
from core.schemas import InboundRecord
from core.users import create_user

DEMO_PASSWORD = "demo-password"
DEMO_USERS = (
    ("rep@demo.leadhub.example", Role.rep.value, "Anna Nowak"),
    ("rep2@demo.leadhub.example", Role.rep.value, "Dmitry Orlov"),
    ("manager@demo.leadhub.example", Role.manager.value, "Marta Wiśniewska"),
    ("admin@demo.leadhub.example", Role.admin.value, "Admin"),
)

# (channel, name, email, phone, company, linkedin, subject, text, days ago)
PEOPLE: tuple[tuple[str, str, str | None, str | None, str, str | None, str, str, int], ...] = (
    ("gmail", "Łukasz Wójcik", "lukasz.wojcik@budmax.pl", "+48 601 234 567", "Budmax sp. z o.o.", None,
     "Zapytanie ofertowe: 40 licencji", "Dzień dobry, proszę o ofertę na 40 licencji dla działu sprzedaży. Budżet mamy zatwierdzony na Q1.", 1),
    ("form", "Lukasz Wojcik", "l.wojcik@budmax.pl", "601234567", "Budmax", None,
     "Demo request", "Chcielibyśmy umówić prezentację w przyszłym tygodniu.", 2),
    ("linkedin", "Łukasz Wójcik", None, None, "Budmax", "https://pl.linkedin.com/in/lukasz-wojcik-budmax/",
     "Saved profile", "Head of Sales at Budmax", 3),
    ("intercom", "Екатерина Смирнова", "e.smirnova@severtrans.ru", "+7 495 123-45-67", "ООО Севертранс", None,
     "Цена на годовую подписку", "Здравствуйте! Подскажите цену на годовую подписку для 15 пользователей?", 0),
    ("gmail", "Ekaterina Smirnova", "e.smirnova@severtrans.ru", None, "Severtrans", None,
     "Re: Цена на годовую подписку", "Спасибо, ждём коммерческое предложение до пятницы.", 0),
    ("form", "Katarzyna Zielińska", "kasia.zielinska@gmail.com", "+48 512 345 678", "Zielińska Design", None,
     "Newsletter", "Zapis na newsletter.", 6),
    ("gmail", "John Carter", "john.carter@northwind.example", "+44 20 7946 0958", "Northwind Traders", None,
     "Pricing for 200 seats", "Hi, we are evaluating tools for our EMEA team. Could you send pricing for 200 seats?", 4),
    ("linkedin", "John Carter", None, None, "Northwind Traders", "linkedin.com/in/johncarter-nw",
     "Saved profile", "VP Sales EMEA at Northwind Traders", 5),
    ("intercom", "Piotr Kamiński", "piotr@kaminski-auto.pl", None, "Kamiński Auto", None,
     "Integracja z Gmailem", "Czy wasz system integruje się z Gmailem i Intercomem?", 8),
    ("form", "Piotr Kaminski", "biuro@kaminski-auto.pl", "+48 22 123 45 67", "Kaminski Auto", None,
     "Callback request", "Proszę o kontakt telefoniczny po 15:00.", 9),
    ("gmail", "Алексей Иванов", "a.ivanov@tehnoprom.ru", "+7 812 555 01 02", "Технопром", None,
     "Запрос коммерческого предложения", "Добрый день. Интересует внедрение для 50 менеджеров, сроки — март.", 12),
    ("intercom", "Aleksey Ivanov", "aleksey.ivanov@gmail.com", None, "Tehnoprom", None,
     "Demo", "Can we get a demo in English for our Warsaw office?", 13),
    ("form", "Maria Garcia", "maria@solartech.example", None, "SolarTech", None,
     "Quote request", "We need a quote for the enterprise plan, decision by end of month.", 15),
    ("gmail", "Tomasz Lewandowski", "tomasz.lewandowski@hurtex.pl", "+48 605 111 222", "Hurtex S.A.", None,
     "Oferta na wdrożenie", "Prosimy o ofertę wdrożenia. Decyzję podejmuje zarząd w styczniu.", 20),
    ("linkedin", "Tomasz Lewandowski", None, None, "Hurtex", "https://www.linkedin.com/in/tlewandowski/?trk=x",
     "Saved profile", "CFO at Hurtex S.A.", 21),
    ("form", "Ольга Кузнецова", "olga.k@mail.ru", "+7 916 000 11 22", "", None,
     "Newsletter", "Подписка на рассылку.", 25),
    ("intercom", "Sophie Martin", "sophie.martin@lumiere.example", None, "Lumière SAS", None,
     "Question about GDPR", "Where do you store our data? We need an EU-hosted option.", 30),
    ("gmail", "Michał Dąbrowski", "michal.dabrowski@agrofarm.pl", None, "Agrofarm", None,
     "Współpraca", "Dzień dobry, szukamy narzędzia do obsługi zapytań z formularzy i maili.", 35),
    ("form", "Michal Dabrowski", "michal@agrofarm.pl", "+48 700 800 900", "Agrofarm sp. z o.o.", None,
     "Contact", "Proszę o kontakt.", 36),
    ("gmail", "Info Hurtex", "info@hurtex.pl", None, "Hurtex S.A.", None,
     "Zapytanie", "Przesyłamy zapytanie od naszego działu zakupów.", 40),
)


def demo_records(now: datetime | None = None) -> list[InboundRecord]:
    now = now or datetime.now(UTC)
    records = []
    for index, (channel, name, email, phone, company, linkedin, subject, text, days) in enumerate(PEOPLE):
        contact: dict[str, Any] = {"name": name, "company": company or None}
        if email:
            contact["email"] = email
        if phone:
            contact["phone"] = phone
        if linkedin:
            contact["linkedin_url"] = linkedin
        if channel == "intercom":
            contact["external_user_id"] = f"demo-ic-{index}"
        message = {
            "external_id": f"demo-{channel}-{index}",
            "thread_id": f"demo-thread-{index}",
            "direction": "in",
            "sent_at": (now - timedelta(days=days, hours=index)).isoformat(),
            "subject": subject,
            "text": text,
            "sender": email or name,
        }
        records.append(InboundRecord.model_validate({"channel": channel, "contact": contact, "message": message}))
    return records


def seed_demo(session: Session, *, region: str = "PL") -> dict[str, int]:
    users: dict[str, User] = {}
    for email, role, name in DEMO_USERS:
        user = session.exec(select(User).where(User.email == email)).first()
        if user is None:
            user = create_user(session, email=email, role=role, name=name, password=DEMO_PASSWORD)
        users[email] = user
    reps = [u for u in users.values() if u.role == Role.rep.value]
    created = 0
    for index, record in enumerate(demo_records()):
        record.owner_id = reps[index % len(reps)].id
        result = ingest(session, record, options=IngestOptions(default_phone_region=region, actor="demo"))
        created += result.status == "created"
    _demo_notes_and_reads(session, users)
    _demo_form(session, reps[0])
    setting = session.get(AppSetting, "demo")
    if setting is None:
        session.add(AppSetting(key="demo", value={"seeded": True}))
    session.commit()
    return {"users": len(users), "records": created}


DEMO_FORM_NAME = "Kontakt (demo)"


def _demo_form(session: Session, owner: User) -> None:
    """A website form to try: its hosted page, embed code and submissions are on /admin/forms."""
    from connectors.forms.validation import DEFAULT_FIELDS
    from webapp.forms import new_form_key

    if session.exec(select(Form).where(Form.name == DEMO_FORM_NAME)).first() is None:
        session.add(Form(key=new_form_key(), name=DEMO_FORM_NAME, type="contact", owner_id=owner.id,
                         fields=[dict(f) for f in DEFAULT_FIELDS],
                         consent_text="Zgadzam się na kontakt w sprawie mojego zapytania. / I agree to be contacted.",
                         consent_version=1, thank_you_message="Dziękujemy! Odezwiemy się wkrótce."))


def _demo_notes_and_reads(session: Session, users: dict[str, User]) -> None:
    """A note on the first lead and a few conversations already read by the manager, so the inbox shows both."""
    from core.models import Conversation, ConversationRead, Message
    from webapp.leads import add_note

    if session.exec(select(Message).where(Message.kind == "note")).first() is not None:
        return
    first = session.exec(select(Contact).where(Contact.merged_into == None).order_by(Contact.id)).first()  # noqa: E711
    if first is not None:
        add_note(session, contact=first, text="Called back: wants a demo for the sales team next week.",
                 author="manager@demo.leadhub.example")
    manager = users.get("manager@demo.leadhub.example")
    conversations = session.exec(
        select(Conversation).where(Conversation.channel != "note").order_by(Conversation.id).limit(6)
    ).all()
    for conv in conversations[::2] if manager else []:
        session.add(ConversationRead(user_id=manager.id, conversation_id=conv.id))


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Only seed when the store has no contacts yet.")
@with_appcontext
def demo_command(if_empty: bool) -> None:
    """Load demo users and inquiries (only meant for the embedded default)."""
    from webapp.db import get_engine

    with Session(get_engine()) as session:
        if if_empty and session.exec(select(sa.func.count()).select_from(Contact)).one() > 0:
            click.echo("store already has contacts; demo data not loaded")
            return
        counts = seed_demo(session, region=current_app.config["LEADHUB"]["DEFAULT_PHONE_REGION"])
    click.echo(
        f"demo data loaded: {counts['records']} inquiries; sign in as "
        + ", ".join(email for email, _, _ in DEMO_USERS)
        + f" with password {DEMO_PASSWORD!r}"
    )


# --------------------------------------------------------------------------- the demo's Gmail mailbox

DEMO_MAILBOX = "rep@demo.leadhub.example"
# (from, subject, body, extra headers, hours ago): what "Connect Gmail" finds in the demo rep's mailbox. The first
# writes again about a lead the demo already has; the website form's notification is its visitor's inquiry; the
# newsletter, the out-of-office reply and the colleague show what is not an inquiry.
DEMO_MAIL: tuple[tuple[str, str, str, str, int], ...] = (
    ("Łukasz Wójcik <lukasz.wojcik@budmax.pl>", "Re: Zapytanie ofertowe: 40 licencji",
     "Dzień dobry,\n\nczy możemy dostać ofertę do piątku? Decyzję podejmuje zarząd.\n\nŁukasz Wójcik\nBudmax sp. z o.o.\n"
     "tel. +48 601 234 567", "", 2),
    ("Natalia Sokołowska <n.sokolowska@mebloteka.pl>", "Zapytanie o cenę",
     "Dzień dobry, proszę o cenę wdrożenia dla 12 handlowców. Termin: luty.\n\nNatalia Sokołowska\nMebloteka", "", 5),
    ("Дмитрий Соколов <d.sokolov@uralstal.ru>", "Запрос цены",
     "Здравствуйте! Пришлите, пожалуйста, цену и коммерческое предложение на 30 пользователей.\n\nДмитрий Соколов",
     "", 26),
    ("Hans Becker <hans.becker@techwerk.example>", "Quote for 25 seats",
     "Hello, could you send a quote for 25 seats? We decide this quarter.\n\nHans Becker\nHead of Sales, Techwerk GmbH\n"
     "+49 30 1234567", "", 50),
    ("Webinar Weekly <news@webinars.example>", "Top 10 sales tips",
     "This week's newsletter.", "List-Unsubscribe: <mailto:unsubscribe@webinars.example>\r\nPrecedence: bulk\r\n", 8),
    ("Marta Wiśniewska <manager@demo.leadhub.example>", "Spotkanie zespołu",
     "Przypominam o spotkaniu o 10:00.", "", 20),
    ("Formularz na stronie <wordpress@demo.leadhub.example>", "Nowe zgłoszenie z formularza kontaktowego",
     "Imię i nazwisko: Ola Zima\nE-mail: ola@zima-projekt.pl\nTelefon: 601 555 123\n"
     "Wiadomość: Proszę o ofertę na 8 licencji dla biura projektowego.",
     "Reply-To: Ola Zima <ola@zima-projekt.pl>\r\n", 3),
    ("Piotr Nowicki <p.nowicki@agroserwis.example>", "Automatyczna odpowiedź: Oferta",
     "Dzień dobry, jestem na urlopie do 15 grudnia. W pilnych sprawach proszę dzwonić do biura.", "", 30),
)


def demo_mailbox_messages(now: datetime | None = None) -> list[tuple[bytes, datetime]]:
    """Raw RFC 822 mail for the demo mailbox, with dates relative to now and stable Message-IDs (a restarted
    demo serves the same mail, which ingest recognises)."""
    from email.message import EmailMessage
    from email.utils import format_datetime

    now = now or datetime.now(UTC)
    out = []
    for index, (sender, subject, body, extra, hours_ago) in enumerate(DEMO_MAIL):
        when = now - timedelta(hours=hours_ago)
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = sender, DEMO_MAILBOX, subject
        message["Date"] = format_datetime(when)
        message["Message-ID"] = f"<demo-mail-{index}@demo.leadhub.example>"
        message.set_content(body)
        raw = message.as_bytes().replace(b"\n", b"\r\n")
        out.append((extra.encode() + raw if extra else raw, when))
    return out


# --------------------------------------------------------------------------- the demo's Intercom workspace

# (name, email, phone, [(author, html), …], hours ago): chats "Connect an Intercom workspace" back-fills. The
# first is a person the demo already knows from Gmail and a form; the rest are new.
DEMO_CHATS: tuple[tuple[str, str, str | None, tuple[tuple[str, str], ...], int], ...] = (
    ("Tomasz Lewandowski", "tomasz.lewandowski@hurtex.pl", "+48 605 111 222", (
        ("user", "<p>Dzień dobry, czy jest już oferta dla zarządu?</p>"),
        ("admin", "<p>Tak, wyślę ją dziś po południu.</p>"),
        ("user", "<p>Dziękuję! Budżet to ok. 80 tys. zł.</p>"),
    ), 3),
    ("Irina Volkova", "i.volkova@baltlogistic.ru", None, (
        ("user", "<p>Здравствуйте! Сколько стоит лицензия на 20 менеджеров?</p>"),
        ("admin", "<p>Добрый день! Пришлю коммерческое предложение сегодня.</p>"),
    ), 7),
    ("Paweł Mazur", "pawel.mazur@ekobud.pl", "+48 501 222 333", (
        ("user", "<p>Czy macie integrację z formularzami na stronie? Chcemy demo.</p>"),
    ), 30),
)


def seed_demo_workspace(emulator: Any, now: datetime | None = None) -> None:
    """Fill an Intercom emulator with the demo's chats (dates relative to now)."""
    stamp_now = int((now or datetime.now(UTC)).timestamp())
    for name, email, phone, parts, hours_ago in DEMO_CHATS:
        start = stamp_now - hours_ago * 3600
        contact = emulator.add_contact(name=name, email=email, phone=phone, role="lead", updated_at=start)
        first_body, rest = parts[0][1], parts[1:]  # the opening message is the lead's
        conversation = emulator.add_conversation(contact["id"], first_body, created_at=start)
        for index, (author, body) in enumerate(rest, start=1):
            emulator.add_part(conversation["id"], body, author_type=author, created_at=start + index * 600)

"""HTML bodies: sanitising, and the plain reading of markup too deep for the parser (core.markup)."""

from __future__ import annotations

import pytest

import core.markup
from connectors.gmail.mime import html_to_text
from core.ingest import sanitize_html  # (what ingest, Gmail and Intercom store HTML through)
from core.markup import MAX_HTML_DEPTH, html_depth, plain_reading, without_hidden


@pytest.mark.parametrize(("markup", "depth"), [
    ("", 0), ("plain", 0), ("<div>a</div><div>b</div>", 1), ("<div><table><tr><td>x</td></tr></table></div>", 4),
    ("<br><img src=x><hr/>", 0), ("<b>" * 300, MAX_HTML_DEPTH + 1), ("<div><span>x", 2),
    # Ended by the parser: old mail's unclosed paragraphs, items and cells do not add up, and keep their markup.
    ("<p>one<p>two<p>three", 1), ("<ul>" + "<li>item" * 1000 + "</ul>", 2),
    ("<table>" + "<tr><td>a<td>b" * 1000 + "</table>", 3), ("<td>" * 1000, 0),
    # Closing what is not open, or is behind a table, closes nothing (the parser ignores it).
    ("<div></b>" * 300, MAX_HTML_DEPTH + 1), ("<div><table></div></table>" * 300, MAX_HTML_DEPTH + 1),
    # A formatting element's end leaves the blocks in it open; popped with a block, it is reopened at the next text.
    ("<b><div></b>" * 300, MAX_HTML_DEPTH + 1), ("<div/>" * 300, MAX_HTML_DEPTH + 1), ("<x_y>" * 300, MAX_HTML_DEPTH + 1),
    ("<ul><li></li></ul>" * 300, 2), ("<p><b id=1><p>x" * 300, MAX_HTML_DEPTH + 1),
    # Nested by the parser outside their parent: counted.
    ("<rb><rt><rp><rtc>" * 100, MAX_HTML_DEPTH + 1), ("<optgroup><option>" * 300, MAX_HTML_DEPTH + 1),
])
def test_html_depth(markup: str, depth: int) -> None:
    assert html_depth(markup) == depth


def test_old_mail_of_unclosed_paragraphs_keeps_its_markup() -> None:
    sloppy = "<table>" + "<tr><td>Nazwa<td>Ilość" * 400 + "</table>" + "<p>Pozdrawiam<p>Jan" * 200
    assert "<td>Nazwa</td>" in sanitize_html(sloppy)


def test_markup_deeper_than_mail_is_not_given_to_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parser is quadratic in depth (80,000 levels of <div>: 13 s): deep markup is read as text, linearly,
    and keeps its words; markup of real mail's depth still goes through the allow-list sanitiser."""
    calls: list[int] = []
    real_clean = core.markup.nh3.clean
    monkeypatch.setattr(core.markup.nh3, "clean", lambda html, **kw: calls.append(len(html)) or real_clean(html, **kw))
    deep = "<div>" * 20_000 + "Proszę o wycenę &amp; termin<script>alert(1)</script>" + "</div>" * 20_000
    assert sanitize_html(deep) == "<p>Proszę o wycenę &amp; termin</p>"
    assert calls == []
    shallow = "<div>" * 40 + "<p onclick='x()'>Dzień dobry</p>" + "</div>" * 40
    clean = sanitize_html(shallow)
    assert "Dzień dobry" in clean and "onclick" not in clean
    assert calls == [len(shallow)]


@pytest.mark.parametrize(("markup", "kept"), [
    ("a<script>x</script>b", "ab"),
    ("a<SCRIPT type='text/javascript'>x</Script >b<style>p{}</style>c", "abc"),
    ("<head><title>t</title></head><p>Hi</p>", "<p>Hi</p>"),
    ("a<script>never closed<p>b</p>", "a"),  # in HTML the rest is the script's
    ("<script>" * 20_000, ""),  # (a regex from each opening tag to the end: 11 s)
    ("<scripts>kept</scripts>", "<scripts>kept</scripts>"),
])
def test_without_hidden(markup: str, kept: str) -> None:
    assert without_hidden(markup) == kept


@pytest.mark.parametrize(("markup", "text"), [
    ("<p>one<p>two", "one\ntwo"),
    # (a <div> is a line, as html_to_text reads it, not a paragraph)
    ("<div>a</div><div>b &lt;c&gt;</div>", "a\nb <c>"),
    ("<style>x{}</style><b>Jan</b> <i>Kowalski</i>", "Jan Kowalski"),
])
def test_plain_reading(markup: str, text: str) -> None:
    assert plain_reading(markup) == text


# (HTML body, its text): what every channel stores as the text of an HTML body (core.markup.html_to_text).
HTML_TEXTS = [
    ("<p>Dzień dobry,</p><p>proszę o ofertę<br>Pozdrawiam</p>", "Dzień dobry,\nproszę o ofertę\nPozdrawiam"),
    # Outlook wraps its HTML source at 76 columns, mid-sentence: a source line break is a space.
    ("<p class=MsoNormal>Proszę o ofertę na\r\n200 krzeseł biurowych.</p>", "Proszę o ofertę na 200 krzeseł biurowych."),
    ("<p>a    b\t c</p>", "a b c"),
    # Old mail's paragraphs never closed ('<P>' between them), and text right before a block: two lines.
    ("Hello,<P>You have qualified<P>Regards", "Hello,\nYou have qualified\nRegards"),
    ("Cena:<div>200 zł</div>", "Cena:\n200 zł"),
    # A form notification's table: cells on lines of their own, a blank line between rows.
    ("<table><tr><td>Imię</td><td>Ola Zima</td></tr><tr><td>Tel</td><td>+48 601</td></tr></table>",
     "Imię\nOla Zima\n\nTel\n+48 601"),
    ("<ul><li>jeden<li>dwa</ul><blockquote>cytat</blockquote>po", "jeden\ndwa\ncytat\npo"),
    # <pre> keeps its line breaks.
    ("<p>Log:</p><pre>linia 1\nlinia 2</pre>", "Log:\nlinia 1\nlinia 2"),
    # No block markup at all: text labelled HTML, whose line breaks are all it has.
    ("Dzień dobry,\nproszę o <b>ofertę</b>.\n\nJan", "Dzień dobry,\nproszę o ofertę.\n\nJan"),
    ("<p>Tom &amp; Jerry&nbsp;</p><p>&nbsp;</p><p>x &lt;y&gt;</p>", "Tom & Jerry\n\nx <y>"),
    ("<head><title>Newsletter</title><style>p{}</style></head><p>Hi</p><script>x()</script>", "Hi"),
    ("a\ufdd0b<p>c", "ab\nc"),  # (the soft break's noncharacter is no text)
]


@pytest.mark.parametrize(("markup", "text"), HTML_TEXTS)
def test_html_to_text(markup: str, text: str) -> None:
    assert core.markup.html_to_text(markup) == text
    # Markup too deep for the parser is read without it, the same way.
    assert plain_reading(markup) == text


def test_gmail_and_intercom_read_an_html_body_alike() -> None:
    """Two readers differed: Gmail's kept the source's line breaks and indentation, Intercom's left words of
    adjacent cells or unclosed paragraphs run together. Both are core.markup.html_to_text now."""
    from connectors.gmail.mime import parse_message
    from connectors.intercom.mapping import body_text_and_html

    for markup, text in HTML_TEXTS:
        raw = ("From: a@firma.example\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + markup).encode()
        assert parse_message(raw).text == text, markup
        if "<p" in markup or "<table" in markup:  # (what Intercom reads as HTML)
            assert body_text_and_html(markup)[0] == text, markup


def test_mail_text_of_deep_or_script_ridden_html() -> None:
    assert html_to_text("<div>" * 20_000 + "Oferta" + "</div>" * 20_000) == "Oferta"
    assert html_to_text("<p>Hi</p>" + "<script>" * 20_000) == "Hi"
    assert html_to_text("<p>Hi</p><script>alert(1)</script><p>there</p>") == "Hi\nthere"

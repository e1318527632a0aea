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
    ("<div>a</div><div>b &lt;c&gt;</div>", "a\n\nb <c>"),
    ("<style>x{}</style><b>Jan</b> <i>Kowalski</i>", "Jan Kowalski"),
])
def test_plain_reading(markup: str, text: str) -> None:
    assert plain_reading(markup) == text


def test_mail_text_of_deep_or_script_ridden_html() -> None:
    assert html_to_text("<div>" * 20_000 + "Oferta" + "</div>" * 20_000) == "Oferta"
    assert html_to_text("<p>Hi</p>" + "<script>" * 20_000) == "Hi"
    assert html_to_text("<p>Hi</p><script>alert(1)</script><p>there</p>") == "Hi\nthere"

"""HTML bodies of mail and chats: allow-list sanitising, and a plain reading for markup too deep to parse.

The sanitiser's parser (nh3, on html5ever) works quadratically in how deep elements nest: 20,000 levels of
"<div>" (120 KB) take seconds, 80,000 (400 KB) 13 s, and any sender can write that into a mail, a chat or an API
record. Real mail nests a few dozen levels (Outlook's tables), so markup deeper than MAX_HTML_DEPTH is read in
linear passes instead: block tags break lines, other tags go, entities decode, and the text is shown as
paragraphs.
"""

from __future__ import annotations

import html as html_lib
import re

import nh3

MAX_HTML_DEPTH = 256
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(?:\s[^<>]*)?>")
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
                   "track", "wbr"})
_ANY_TAG = re.compile(r"<[^<>]*>")
# Tags, opening or closing, that begin a new line in the plain reading: HTML lets a paragraph, an item or a row
# go unclosed ("<p>one<p>two"), and the words must not run together.
_LINE_TAG = re.compile(r"(?i)<\s*/?\s*(?:br|p|div|li|tr|td|th|h[1-6]|blockquote|table|ul|ol|dt|dd|pre|hr)\b[^<>]*>")
_BLANK_LINES = re.compile(r"\n{3,}")
# Elements whose content is not text; in HTML one left open runs to the end of the document.
_HIDDEN_OPEN = re.compile(r"(?i)<(script|style|head)\b")


def html_depth(markup: str | None, limit: int = MAX_HTML_DEPTH) -> int:
    """How deep the markup's elements nest, counted from its tags in one linear pass (an element never closed
    counts as open), stopping once past `limit`."""
    depth = deepest = 0
    for match in _TAG.finditer(markup or ""):
        if match.group(1):
            depth = max(0, depth - 1)
        elif match.group(2).lower() not in _VOID and not match.group(0).endswith("/>"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
    return deepest


def too_deep(markup: str | None) -> bool:
    return html_depth(markup) > MAX_HTML_DEPTH


def without_hidden(markup: str) -> str:
    """The markup without script, style and head elements, in one pass: a regex of '<script>.*?</script>' scans
    to the end of the text from every opening tag never closed (20,000 of them: 11 s)."""
    lowered = markup.lower()
    kept: list[str] = []
    at = 0
    while (found := _HIDDEN_OPEN.search(markup, at)) is not None:
        kept.append(markup[at:found.start()])
        close = lowered.find(f"</{found.group(1).lower()}", found.end())
        if close < 0:
            return "".join(kept)  # never closed: the rest is its content
        end = markup.find(">", close)
        at = len(markup) if end < 0 else end + 1
    kept.append(markup[at:])
    return "".join(kept)


def plain_reading(markup: str) -> str:
    """The text of markup, without a parser (linear): hidden elements go, block tags break lines, other tags go,
    entities decode."""
    text = html_lib.unescape(_ANY_TAG.sub("", _LINE_TAG.sub("\n", without_hidden(markup))))
    lines = [line.strip() for line in text.splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def text_to_html(text: str) -> str:
    """Plain text as HTML paragraphs: blank lines part paragraphs, line breaks stay, markup characters escaped."""
    paragraphs = [html_lib.escape(p.strip()).replace("\n", "<br>") for p in text.replace("\r\n", "\n").split("\n\n")]
    return "".join(f"<p>{p}</p>" for p in paragraphs if p)


def sanitize_html(html: str | None) -> str:
    """Allow-list sanitising of HTML mail and chat bodies (scripts, handlers and javascript: URLs go); markup
    nested deeper than any real mail is shown as its text (see the module's note)."""
    if not html:
        return ""
    if too_deep(html):
        return text_to_html(plain_reading(html))
    return nh3.clean(html, link_rel="noopener noreferrer nofollow")

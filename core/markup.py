"""HTML bodies of mail and chats: allow-list sanitising, their text (one reader for every channel), and a plain
reading for markup too deep to parse.

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
# A tag as the parser reads one: its name runs to a space, "/" or ">" ("<x_y>" and "<div/>" are elements too).
_TAG = re.compile(r"<(/?)([a-zA-Z][^\s/>]*)[^>]*>")
_VOID = frozenset({"area", "base", "basefont", "bgsound", "br", "col", "embed", "hr", "image", "img", "input",
                   "keygen", "link", "meta", "param", "source", "track", "wbr"})
# What the depth count takes of the HTML parsing algorithm (WHATWG 13.2.6) is only what makes it never count less
# than the parser nests: a tag that closes takes one element off, and only when the parser surely closes that
# one (it is open, and nothing the tag cannot close beyond is above it); the parser may take more.
_SCOPE = frozenset({"applet", "caption", "html", "table", "td", "th", "marquee", "object", "template", "svg",
                    "math", "select"})
_LIST_SCOPE = _SCOPE | {"ol", "ul"}
_BUTTON_SCOPE = _SCOPE | {"button"}
# Start tags that close an open paragraph first.
_CLOSES_P = frozenset({"address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div", "dl",
                       "fieldset", "figcaption", "figure", "footer", "header", "hgroup", "main", "menu", "nav", "ol",
                       "p", "search", "section", "summary", "ul", "h1", "h2", "h3", "h4", "h5", "h6", "pre",
                       "listing", "form", "li", "dd", "dt", "plaintext", "table", "hr", "xmp"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_TABLE_PARTS = frozenset({"tr", "td", "th", "thead", "tbody", "tfoot", "caption", "colgroup"})
# The elements (all special but address, div and p) that stop the parser's search for an open <li>, <dd>, <dt>.
_ITEM_STOP = frozenset({"applet", "article", "aside", "blockquote", "button", "caption", "center", "dd", "details",
                        "dir", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
                        "h4", "h5", "h6", "header", "hgroup", "iframe", "li", "main", "marquee", "menu", "nav",
                        "object", "ol", "pre", "section", "select", "summary", "table", "tbody", "td",
                        "template", "textarea", "tfoot", "th", "thead", "tr", "ul"})
# In the plain reading, tags, opening or closing, that begin a new line: HTML lets a paragraph, an item or a row
# go unclosed ("<p>one<p>two"), and the words must not run together.
_LINE_TAG = re.compile(r"(?i)<\s*/?\s*(?:br|p|div|li|tr|td|th|h[1-6]|blockquote|table|ul|ol|dt|dd|pre|hr)\b[^<>]*>")
# Of those, the ones after which a line surely ends: a line break, a rule, a block's end.
_HARD_BREAK = re.compile(r"(?i)<\s*(?:br|hr|/)")
# Put after a block's start tag: a line break unless one is next to it (U+FDD0, a noncharacter, is never text).
_SOFT_BREAK = "\ufdd0"
_BREAKS = re.compile(r"\s*\ufdd0[\s\ufdd0]*")
_PRE_OPEN = re.compile(r"(?i)<pre\b")
_SOURCE_SPACE = re.compile(r"[ \t\r\n\f]+")
_LINE_SPACE = re.compile(r"[ \t\f\v]+")
_ANY_TAG = re.compile(r"<[^<>]*>")
_BLANK_LINES = re.compile(r"\n{3,}")
# Elements whose content is not text; in HTML one left open runs to the end of the document.
_HIDDEN_OPEN = re.compile(r"(?i)<(script|style|head)\b")


def html_depth(markup: str | None, limit: int = MAX_HTML_DEPTH) -> int:
    """How deep the parser nests the markup's elements, at least: counted from its tags in one linear pass over a
    stack of at most `limit` open elements (see _SCOPE). An element never closed counts as open; a paragraph,
    list item or table cell the next one ends does not. Stops once past `limit`."""
    stack: list[str] = []
    deepest = 0
    for match in _TAG.finditer(markup or ""):
        name = match.group(2).lower()
        if match.group(1):
            _take_off(stack, name, _LIST_SCOPE if name == "li" else _BUTTON_SCOPE if name == "p" else _SCOPE)
            continue
        if name in _CLOSES_P:
            _take_off(stack, "p", _BUTTON_SCOPE)
        if name in _VOID:
            continue
        if name in _HEADINGS and stack and stack[-1] in _HEADINGS:
            stack.pop()
        elif name in ("li", "dd", "dt"):
            ends = ("li",) if name == "li" else ("dd", "dt")
            for at in range(len(stack) - 1, -1, -1):
                if stack[at] in ends:
                    del stack[at]
                    break
                if stack[at] in _ITEM_STOP:
                    break
        elif name == "option" and stack and stack[-1] == "option":
            stack.pop()
        elif name in _TABLE_PARTS:
            if "table" not in stack and "template" not in stack:
                continue  # (outside a table the parser drops these tags)
            if name in ("td", "th", "tr"):
                # A new cell ends the open cell; a new row ends the open cell and row (of the innermost table).
                ends = {"td", "th", "tr"} if name == "tr" else {"td", "th"}
                for at in range(len(stack) - 1, -1, -1):
                    if stack[at] in ("table", "template") or (name != "tr" and stack[at] == "tr"):
                        break
                    if stack[at] in ends:
                        del stack[at]
        stack.append(name)
        if len(stack) > deepest:
            deepest = len(stack)
            if deepest > limit:
                break
    return deepest


def _take_off(stack: list[str], name: str, scope: frozenset[str]) -> None:
    """Take `name`'s innermost open element off the stack, alone, if nothing in `scope` is above it."""
    for at in range(len(stack) - 1, -1, -1):
        if stack[at] == name:
            del stack[at]
            return
        if stack[at] in scope:
            return


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
    """The text of markup, without a parser (linear), read as html_to_text reads it: hidden elements go, block
    tags break lines, other tags go, entities decode."""
    return _tidy_lines(html_lib.unescape(_ANY_TAG.sub("", _marked_lines(without_hidden(markup)))))


def html_to_text(markup: str | None, *, deep: bool | None = None) -> str:
    """The text of an HTML body as a reader sees it, for every channel: source line breaks are spaces (outside
    <pre>, and in 'HTML' with no block markup at all, which is text), a block's start or end or a <br> breaks
    the line, hidden elements go, tags go, entities decode, each line is trimmed and blank lines come down to
    one. `deep`: too_deep(markup) when the caller has counted it already (the count is a pass over the whole
    body); markup that deep is read by plain_reading, without the parser.

    Each break follows its tag, which stays: replaced by it, every block is left open and html5ever builds a tree
    as deep as the body is long, in quadratic time."""
    if not markup:
        return ""
    if too_deep(markup) if deep is None else deep:
        return plain_reading(markup)  # (the parser would take minutes)
    return _tidy_lines(html_lib.unescape(nh3.clean(_marked_lines(without_hidden(markup)), tags=set())))


def _marked_lines(markup: str) -> str:
    """The markup with its source whitespace as rendered (_rendered_spaces), a line break after each <br>, <hr>
    and block end, and a _SOFT_BREAK after each block start: a line break only where no other is (text then
    '<p>' is two lines; '</td><td>' is one break, not a blank line)."""
    markup = markup.replace(_SOFT_BREAK, "")  # (a noncharacter: never text)
    if _LINE_TAG.search(markup) is None:
        return markup  # no block markup: text labelled HTML, whose line breaks are its only structure
    return _LINE_TAG.sub(lambda tag: tag.group(0) + ("\n" if _HARD_BREAK.match(tag.group(0)) else _SOFT_BREAK),
                         _rendered_spaces(markup))


def _rendered_spaces(markup: str) -> str:
    """The markup with each run of source whitespace one space, as a browser renders it (Outlook wraps its HTML
    source at 76 columns, mid-sentence), but inside <pre>, where line breaks are the text's. Linear: one find
    for each <pre>'s end."""
    lowered = markup.lower()
    kept: list[str] = []
    at = 0
    while (found := _PRE_OPEN.search(markup, at)) is not None:
        kept.append(_SOURCE_SPACE.sub(" ", markup[at:found.start()]))
        close = lowered.find("</pre", found.end())
        at = len(markup) if close < 0 else close
        kept.append(markup[found.start():at])
    kept.append(_SOURCE_SPACE.sub(" ", markup[at:]))
    return "".join(kept)


def _tidy_lines(text: str) -> str:
    """Soft breaks made line breaks where no other is, each line trimmed, runs of spaces and tabs one space, at
    most one blank line in a row."""
    text = _BREAKS.sub(lambda run: "\n" * max(run.group(0).count("\n"), 1), text).replace(_SOFT_BREAK, "")
    lines = [_LINE_SPACE.sub(" ", line).strip() for line in text.splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def text_to_html(text: str) -> str:
    """Plain text as HTML paragraphs: blank lines part paragraphs, line breaks stay, markup characters escaped."""
    paragraphs = [html_lib.escape(p.strip()).replace("\n", "<br>") for p in text.replace("\r\n", "\n").split("\n\n")]
    return "".join(f"<p>{p}</p>" for p in paragraphs if p)


def sanitize_html(html: str | None, *, deep: bool | None = None) -> str:
    """Allow-list sanitising of HTML mail and chat bodies (scripts, handlers and javascript: URLs go); markup
    nested deeper than any real mail is shown as its text (see the module's note). `deep`: as html_to_text's."""
    if not html:
        return ""
    if too_deep(html) if deep is None else deep:
        return text_to_html(plain_reading(html))
    return nh3.clean(html, link_rel="noopener noreferrer nofollow")

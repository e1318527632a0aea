"""Charset labels as mail, forms and files write them -> the Python codec their writers meant.

Connectors share this (Gmail's MIME parts and encoded words, website forms' `_charset_` field and request
charset): a label Python lacks, or reads as a narrower set than the WHATWG Encoding Standard does, is read as
browsers and mail programs read it.
"""

from __future__ import annotations

import codecs
import re

# Labels Python's codecs lack or read as a narrower set than the one their writers meant (Outlook's Korean
# ks_c_5601-1987 and GB2312 are the Windows sets, as the WHATWG Encoding Standard reads them). Korean's is named
# 'uhc', Python's other name for cp949: email.charset reads 'cp949' in an encoded word as EUC-KR again.
_CHARSET_ALIASES = {"x-unknown": "latin-1", "unknown-8bit": "latin-1", "x-user-defined": "latin-1",
                    "iso-2022-jp-ms": "iso-2022-jp", "cp932": "cp932", "shift-jis": "shift_jis", "sjis": "shift_jis",
                    "ks_c_5601-1987": "uhc", "ks_c_5601-1989": "uhc", "ks_c_5601": "uhc", "euc-kr": "uhc",
                    "gb2312": "gb18030", "gb_2312-80": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030",
                    "x-mac-ce": "mac_latin2", "x-mac-centraleurroman": "mac_latin2", "x-mac-ukrainian": "mac_cyrillic",
                    "iso-8859-8-i": "iso8859_8", "iso-8859-6-i": "iso8859_6", "windows-874": "cp874"}
# A Windows or IBM code page spelt another way: 'cp-1250', 'win-1251', 'windows1251', 'ms-1252'.
_CODE_PAGE = re.compile(r"(?:cp|win|windows|ms|ibm)[-_ ]?(\d{3,4})")


def charset_codec(label: str) -> str | None:
    """The Python codec for a charset label as mail writes it, or None: Python's own names, the aliases above,
    a code page spelt another way, and the 'x-' labels of Mac and WHATWG ('x-mac-cyrillic', 'x-cp1251')."""
    label = (label or "").strip().strip("\"'").strip().lower()
    if not label or len(label) > 60:
        return None
    if label in _CHARSET_ALIASES:
        return _CHARSET_ALIASES[label]
    page = _CODE_PAGE.fullmatch(label.removeprefix("x-"))
    for candidate in (label, label.removeprefix("x-").removeprefix("x-"), page and f"cp{page.group(1)}"):
        if not candidate:
            continue
        try:
            return codecs.lookup(candidate).name
        except LookupError:
            continue
    return None

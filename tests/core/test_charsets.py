"""Charset labels -> codecs (core.charsets), shared by Gmail's MIME parts and website forms."""

from __future__ import annotations

import pytest

from core.charsets import charset_codec


@pytest.mark.parametrize(("label", "codec"), [
    ("utf-8", "utf-8"), (" \"UTF8\" ", "utf-8"), ("cp-1250", "cp1250"), ("win-1251", "cp1251"), ("ms-1252", "cp1252"),
    ("x-mac-cyrillic", "mac-cyrillic"), ("ks_c_5601-1987", "uhc"), ("gb2312", "gb18030"), ("koi8-u", "koi8-u"),
    ("no-such-charset", None), ("", None), ("x" * 61, None),
])
def test_charset_codec(label: str, codec: str | None) -> None:
    assert charset_codec(label) == codec

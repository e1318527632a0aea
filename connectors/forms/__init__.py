"""Website forms: websites post to leadhub (push), so this connector never syncs.

The pure parts live here: field definitions and validation (validation.py) and spam checks (spam.py).
The HTTP endpoints and the admin builder are webapp/forms.py.
"""

from __future__ import annotations

from typing import ClassVar

from connectors.base import Connector, register


@register
class FormConnector(Connector):
    type: ClassVar[str] = "form"
    title: ClassVar[str] = "Website forms"
    description: ClassVar[str] = (
        "Contact, quote, demo, callback and newsletter forms hosted at /f/<key> or embedded on any website."
    )
    # Submissions arrive by HTTP POST; there is nothing to pull.
    syncs: ClassVar[bool] = False

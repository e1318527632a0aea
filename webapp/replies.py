"""Replying through the source channel. Connectors register a reply function per channel; the conversation
view shows a reply box only for channels that have one.

    from webapp.replies import register_reply
    register_reply("gmail", send_gmail_reply)

A reply function is called as fn(session, conversation, text=..., user_id=...) and returns nothing; it raises
ReplyError with a message for the user when sending failed. It may store the sent message through core.ingest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ReplyFunction = Callable[..., Any]

_REPLIES: dict[str, ReplyFunction] = {}


class ReplyError(Exception):
    """Sending failed; the message is shown to the user as is."""


def register_reply(channel: str, fn: ReplyFunction) -> None:
    _REPLIES[channel] = fn


def unregister_reply(channel: str) -> None:
    _REPLIES.pop(channel, None)


def reply_function(channel: str) -> ReplyFunction | None:
    return _REPLIES.get(channel)


def can_reply(channel: str) -> bool:
    return channel in _REPLIES

"""Replying through the source channel. Connectors register a reply function per channel; the conversation
view shows a reply box only for channels that have one.

    from webapp.replies import register_reply
    register_reply("gmail", send_gmail_reply)

A reply function is called as fn(session, conversation, text=..., user_id=...) and returns nothing; it raises
ReplyError with a message for the user when sending failed. It may store the sent message through core.ingest.
An optional `blocker(session, conversation, user)` says, before anyone types, why a reply cannot go out from
here (no connected account holds the thread, the connector is off …): the page shows that instead of the box.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ReplyFunction = Callable[..., Any]

ReplyBlocker = Callable[..., "str | None"]

_REPLIES: dict[str, ReplyFunction] = {}
_BLOCKERS: dict[str, ReplyBlocker] = {}


class ReplyError(Exception):
    """Sending failed; the message is shown to the user as is."""


def register_reply(channel: str, fn: ReplyFunction, blocker: ReplyBlocker | None = None) -> None:
    _REPLIES[channel] = fn
    if blocker is not None:
        _BLOCKERS[channel] = blocker
    else:
        _BLOCKERS.pop(channel, None)


def unregister_reply(channel: str) -> None:
    _REPLIES.pop(channel, None)
    _BLOCKERS.pop(channel, None)


def reply_function(channel: str) -> ReplyFunction | None:
    return _REPLIES.get(channel)


def can_reply(channel: str) -> bool:
    return channel in _REPLIES


def reply_blocker(session: Any, conversation: Any, user: Any) -> str | None:
    """Why this user cannot reply to this conversation from leadhub, or None when they can (as far as can be
    told before sending). A channel without a reply function is simply not offered (None here too)."""
    blocker = _BLOCKERS.get(conversation.channel)
    return blocker(session, conversation, user) if blocker is not None and conversation.channel in _REPLIES else None

"""Who may read which message bodies.

A rep's Gmail bodies are visible to that rep (the owner of the connector account the conversation came from),
to managers and to admins. Other reps see that the conversation exists (who, when, subject) but not its body,
unless an admin turned sharing on (AppSetting "share_mail_bodies"). The same rule holds for API tokens,
which carry their user's role.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from core.models import AppSetting, ConnectorAccount, Conversation, Role

PRIVATE_CHANNELS = ("gmail",)
SHARE_SETTING = "share_mail_bodies"


def sharing_on(session: Session) -> bool:
    setting = session.get(AppSetting, SHARE_SETTING)
    return bool(setting and setting.value)


def hidden_conversation_ids(session: Session, *, user_id: int, role: str, conversation_ids: Iterable[int]) -> set[int]:
    """The conversations among `conversation_ids` whose bodies this user may not read."""
    ids = list(set(conversation_ids))
    if role != Role.rep.value or not ids or sharing_on(session):
        return set()
    rows = session.exec(
        select(Conversation.id)
        .join(ConnectorAccount, ConnectorAccount.id == Conversation.account_id)
        .where(col(Conversation.id).in_(ids))
        .where(col(Conversation.channel).in_(PRIVATE_CHANNELS))
        .where(col(ConnectorAccount.owner_id).is_not(None))
        .where(ConnectorAccount.owner_id != user_id)
    ).all()
    return set(rows)

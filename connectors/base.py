"""What every connector is, and the registry that lists them (after Redash's query runners and Meltano's SDK).

A connector is a small class with a stable `type`. Its `read(state)` yields plain `InboundRecord`s, an
occasional `Checkpoint(state)` and `Quarantine` items for what it could not parse. It never touches the
database: `connectors.sync.run_sync` owns the cursor state and advances it only after the records before a
checkpoint are committed, in the same transaction. What it quarantined for a provider's passing fault it fetches
again on a `RetrySchedule`, whose entries every connector keeps in its cursor under the one key "retry".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from core.schemas import InboundRecord


@dataclass(frozen=True)
class ConfigField:
    name: str
    label: str
    secret: bool = False
    required: bool = False
    default: str = ""
    help: str = ""
    # The leadhub setting (e.g. "GOOGLE_CLIENT_ID") this field overrides for the whole app: provider
    # credentials. Fields without one are defaults for every account's own config.
    setting: str = ""
    # The only values the field takes (shown as a choice, not a text box); empty: any text.
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Checkpoint:
    """Everything yielded before this is safe to commit; then the cursor becomes `state`."""

    state: dict[str, Any]


@dataclass(frozen=True)
class Quarantine:
    """A provider item that could not be turned into a record; stored with its reason, the sync goes on."""

    external_id: str
    reason: str


@dataclass(frozen=True)
class Released:
    """A provider item quarantined before (`Quarantine.external_id`) that has now been read: its quarantine entry
    is removed with the records before the next checkpoint."""

    external_id: str


RetryEntries = dict[str, dict[str, int]]


@dataclass(frozen=True)
class RetrySchedule:
    """When a connector fetches again the items it quarantined for a provider's passing fault (a 5xx, a timeout,
    an answer without its content), so that they arrive though nothing about them changes.

    The entries live in the cursor under `RetrySchedule.KEY` as {item id: {"tries": n, "next": epoch}}: n failed
    fetches so far (the one that quarantined the item included), the next try due at `next`. The first retry
    waits `first_wait` seconds, each later one twice the one before; after `max_tries` retries that failed too,
    the entry leaves (the item stays quarantined). At most `max_kept` entries are kept (the ones failed longest
    ago leave first), and at most `per_run` are due in one run. Pure: every method returns a new mapping, the
    one given is not changed, and the time is an argument.
    """

    first_wait: int
    max_tries: int
    max_kept: int
    per_run: int | None = None

    KEY: ClassVar[str] = "retry"

    def load(self, value: Any) -> RetryEntries:
        """The entries of a cursor's `KEY`, failed longest ago first. An entry of another shape (a hand-edited
        cursor: no or non-numeric tries or next, tries out of range) is dropped, not an error every run."""
        entries: list[tuple[float, str, dict[str, int]]] = []
        for item_id, entry in (value.items() if isinstance(value, Mapping) else ()):
            try:
                tries, due = int(entry["tries"]), int(entry["next"])
            except (TypeError, KeyError, ValueError, OverflowError):
                continue
            if isinstance(item_id, str) and item_id and 1 <= tries <= self.max_tries:
                entries.append((due - self.wait(tries), item_id, {"tries": tries, "next": due}))
        entries.sort(key=lambda failed: failed[0])  # (stable: the stored order where the times are equal)
        return {item_id: entry for _, item_id, entry in entries[-self.max_kept:]}

    def wait(self, tries: int) -> int:
        """Seconds from an item's `tries`-th failed fetch to its next try."""
        return int(self.first_wait * 2 ** (tries - 1))

    def failed(self, entries: RetryEntries, item_id: str, now: float) -> RetryEntries:
        """`item_id` failed once more at `now` (or for the first time): its next try, or none after the last."""
        tries = entries.get(item_id, {}).get("tries", 0) + 1
        kept = {k: v for k, v in entries.items() if k != item_id}
        if tries <= self.max_tries:
            kept[item_id] = {"tries": tries, "next": int(now) + self.wait(tries)}
        return dict(list(kept.items())[-self.max_kept:])

    def due(self, entries: RetryEntries, now: float) -> list[str]:
        """The ids whose next try has come at `now`, the longest due first (at most `per_run`)."""
        due = sorted((entry["next"], item_id) for item_id, entry in entries.items() if entry["next"] <= now)
        return [item_id for _, item_id in due[:self.per_run]]

    @staticmethod
    def forget(entries: RetryEntries, item_id: str) -> RetryEntries:
        """Without `item_id`: read at last, or gone for good."""
        return {k: v for k, v in entries.items() if k != item_id}


@dataclass
class ConnectorContext:
    """What a connector instance is given: its account's ids, settings, decrypted credentials, and a way to
    save refreshed credentials (OAuth tokens) without knowing about the database."""

    account_id: int | None
    settings: Mapping[str, Any]
    credentials: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    owner_id: int | None = None
    save_credentials: Any = None  # callable(dict) -> None
    # Read-only: whether an email address already belongs to a contact (for "attach to existing leads only").
    is_known_email: Any = None  # callable(str) -> bool

    def store_credentials(self, credentials: dict[str, Any]) -> None:
        self.credentials = credentials
        if self.save_credentials is not None:
            self.save_credentials(credentials)


class Connector:
    type: ClassVar[str] = ""
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # Admin-level configuration (client ids, secrets, endpoints); secret ones are stored encrypted, shown masked.
    config_fields: ClassVar[tuple[ConfigField, ...]] = ()
    # Whether accounts of this connector are synced by the scheduler (push-only connectors say False).
    syncs: ClassVar[bool] = True

    def __init__(self, context: ConnectorContext):
        self.context = context

    def check(self) -> None:
        """Raise a connectors.errors.ConnectorError if the account cannot be reached."""

    def read(self, state: dict[str, Any]) -> Iterator[InboundRecord | Checkpoint | Quarantine]:
        """Yield records from `state` (the last committed cursor; {} on the first run)."""
        return iter(())


_REGISTRY: dict[str, type[Connector]] = {}


def register(cls: type[Connector]) -> type[Connector]:
    if not cls.type:
        raise ValueError(f"{cls.__name__} has no type")
    existing = _REGISTRY.get(cls.type)
    if existing is not None and existing is not cls:
        raise ValueError(f"connector type {cls.type!r} is registered twice")
    _REGISTRY[cls.type] = cls
    return cls


def get(connector_type: str) -> type[Connector]:
    try:
        return _REGISTRY[connector_type]
    except KeyError:
        raise KeyError(f"no connector of type {connector_type!r}") from None


def registered() -> dict[str, type[Connector]]:
    return dict(sorted(_REGISTRY.items()))

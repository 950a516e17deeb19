"""Sending the outbox (MSG-1, MSG-3): claim messages, call their channel outside any transaction, record.

Never sent twice: the messages of one provider request (a chunk of up to the channel's `max_batch`
messages that may share a request, `channel.batch_key`) are claimed together by ONE committed
`UPDATE … SET status='sending' WHERE id IN (…) AND status='queued' AND due RETURNING id` — so of two
workers each message is won by one, the winner learns which, and only it calls the provider. A message left in `sending` by a worker that died
between the call and the recording of its result is never sent again: after
KAM["MESSAGE_SENDING_TIMEOUT_SECONDS"] it is marked failed with provider code `unknown` (the
provider may or may not have sent it; a delivery report arriving later still turns it into
`delivered`). A lost message is preferred to a duplicate SMS.

Rate limits are shared by all workers (ChannelThrottle, one row per channel): before a request a
worker takes its cost (1 per request; per message where the provider counts messages, e-mail) from
the channel's current window with ONE conditional UPDATE, which either starts a new window or adds
the cost while the window stays within the limit; a row count of 1 allows the request. A request
the window does not allow waits for the next window when that is near
(KAM["MESSAGE_THROTTLE_WAIT_SECONDS"]), otherwise its messages stay queued with `next_attempt_at` at
the next window (no attempt is counted) and the every-minute `send_due` sends them then.
"""

import logging
import math
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from kam.core.jobs import enqueue, scheduled
from kam.messaging import config, services
from kam.messaging.channels.base import Channel, OutgoingMessage, RateLimit, SendResult
from kam.messaging.models import ChannelThrottle, DeliveryEvent, Message, MessageStatus

logger = logging.getLogger(__name__)
UNKNOWN = "unknown"
NOT_CONFIGURED = "not_configured"
OUTGOING_FIELDS = ("pk", "channel", "recipient", "body", "subject", "provider_template_code", "provider_params")


def _conf(name: str, default):
    return settings.KAM.get(name, default)


def _due(now) -> Q:
    return Q(status=MessageStatus.QUEUED, scheduled_for__lte=now) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


# --- the rate limit shared by every worker ----------------------------------------------------------------


def window_start(now: datetime, seconds: int) -> datetime:
    """The start of the fixed window of `seconds` that `now` falls in (aligned to the Unix epoch)."""
    return datetime.fromtimestamp(math.floor(now.timestamp() / seconds) * seconds, UTC)


def throttle_take(name: str, limit: RateLimit, *, cost: int = 1, now: datetime | None = None) -> datetime | None:
    """Take `cost` from the channel's current window: None when allowed, else the start of the next window.

    One conditional UPDATE decides, so workers on any number of machines never together exceed
    `limit.messages` in a window: it starts a new window (the stored one is older) or adds `cost`
    while the sum stays within the limit. The channel's row is made the first time it is needed.
    """
    now = now or timezone.now()
    start = window_start(now, limit.per_seconds)
    allowed = (
        Q(window_start__isnull=True)
        | Q(window_start__lt=start)
        | Q(window_start=start, used__lte=limit.messages - cost)
    )
    for _attempt in range(2):
        won = ChannelThrottle.objects.filter(allowed, channel=name).update(
            used=Case(When(window_start=start, then=F("used") + cost), default=Value(cost)), window_start=start
        )
        if won:
            return None
        _row, created = ChannelThrottle.objects.get_or_create(channel=name)
        if not created:
            break
    return start + timedelta(seconds=limit.per_seconds)


# --- claiming -------------------------------------------------------------------------------------------


def message_claim(message_id: int) -> bool:
    """Move one due message from queued to sending in its own committed transaction; True if this caller won."""
    return messages_claim([message_id]) == [message_id]


def messages_claim(message_ids: Iterable[int], *, now: datetime | None = None) -> list[int]:
    """Move the due messages among `message_ids` to sending with ONE committed UPDATE; the ids won.

    `UPDATE … WHERE id IN (…) AND status='queued' AND due RETURNING id`: a row another worker is
    claiming at this moment is waited for and then re-checked (PostgreSQL) or the other worker's
    transaction comes first (SQLite: one writer at a time), and a row it has claimed is no longer
    queued — so each message is won by one caller, who learns exactly which ones it won.
    """
    now = now or timezone.now()
    ids = list(message_ids)
    if not ids:
        return []
    table = connection.ops.quote_name(Message._meta.db_table)
    at = services.db_time(now)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, sending_since = %s, attempts = attempts + 1, updated_at = %s "  # noqa: S608 - names from the model
            f"WHERE id IN ({', '.join(['%s'] * len(ids))}) AND status = %s AND scheduled_for <= %s "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= %s) RETURNING id",
            [MessageStatus.SENDING, at, at, *ids, MessageStatus.QUEUED, at, at],
        )
        won = sorted(row[0] for row in cursor.fetchall())
        services.delivery_events_insert([(pk, MessageStatus.SENDING, at, "", "") for pk in won])
    return won


def _defer(message_ids: list[int], until: datetime) -> None:
    """The rate limit is used up: keep these queued until the next window; no attempt is counted."""
    Message.objects.filter(_due(timezone.now()), pk__in=message_ids).update(next_attempt_at=until)


def _outgoing(row: dict) -> OutgoingMessage:
    return OutgoingMessage(
        recipient=row["recipient"],
        text=row["body"],
        subject=row["subject"],
        template_code=row["provider_template_code"],
        template_params=row["provider_params"] or {},
        reference=str(row["pk"]),
    )


# --- sending --------------------------------------------------------------------------------------------


class _Sender:
    """One run of the send job: channels built once, their limits, and a deadline for waiting."""

    def __init__(self, channels: dict | None):
        self.channels = {} if channels is None else channels
        self.limits: dict[str, RateLimit | None] = {}
        self.max_wait = float(_conf("MESSAGE_THROTTLE_WAIT_SECONDS", 1.0))
        self.handed = 0

    def channel(self, name: str) -> Channel | None:
        if name not in self.channels:
            try:
                self.channels[name] = config.channel(name)
            except ImproperlyConfigured as error:
                self.channels[name] = error
        found = self.channels[name]
        return None if isinstance(found, ImproperlyConfigured) else found

    def limit(self, name: str, channel: Channel) -> RateLimit | None:
        if name not in self.limits:
            self.limits[name] = config.rate_limit(name, channel)
        return self.limits[name]

    def chunks(self, rows: list[dict]):
        """(channel name, rows of one provider request), in id order within each request."""
        groups: dict[tuple, list[dict]] = {}
        for row in rows:
            channel = self.channel(row["channel"])
            key = channel.batch_key(_outgoing(row)) if channel is not None else ()
            groups.setdefault((row["channel"], key), []).append(row)
        for (name, _key), members in groups.items():
            channel = self.channel(name)
            size = channel.max_batch if channel is not None else 1000
            limit = self.limit(name, channel) if channel is not None else None
            if channel is not None and channel.limit_counts_messages and limit is not None:
                size = min(size, limit.messages)  # a request may never cost more than a window holds
            for start in range(0, len(members), max(1, size)):
                yield name, members[start : start + size]

    def send_chunk(self, name: str, rows: list[dict]) -> bool:
        """Send one provider request's messages; False when the rate limit defers this channel."""
        channel = self.channel(name)
        ids = [row["pk"] for row in rows]
        if channel is None:
            error = self.channels[name]
            won = messages_claim(ids)
            failure = SendResult.failed(provider_code=NOT_CONFIGURED, reason=str(error), temporary=False)
            services.messages_record_results(results={pk: failure for pk in won})
            return True
        limit = self.limit(name, channel)
        if limit is not None:
            cost = len(rows) if channel.limit_counts_messages else 1
            next_window = throttle_take(name, limit, cost=cost)
            if next_window is not None:
                wait = (next_window - timezone.now()).total_seconds()
                if 0 < wait <= self.max_wait:
                    time.sleep(wait)
                    next_window = throttle_take(name, limit, cost=cost)
                if next_window is not None:
                    _defer(ids, next_window)
                    return False
        won = set(messages_claim(ids))
        claimed = [row for row in rows if row["pk"] in won]
        if not claimed:
            return True
        # Outside any transaction: the claim is committed, a slow provider holds no lock.
        results = channel.send_batch([_outgoing(row) for row in claimed])
        self.handed += len(claimed)
        services.messages_record_results(
            results={row["pk"]: result for row, result in zip(claimed, results, strict=True)}
        )
        return True


def deliver(message_ids, *, channels: dict | None = None) -> int:
    """Send the due messages among `message_ids`; returns how many this call handed to a channel."""
    sender = _Sender(channels)
    rows = list(
        Message.objects.filter(_due(timezone.now()), pk__in=list(message_ids)).order_by("pk").values(*OUTGOING_FIELDS)
    )
    deferred: set[str] = set()
    for name, chunk in sender.chunks(rows):
        if name in deferred:
            _defer([row["pk"] for row in chunk], _next_window_of(sender, name))
            continue
        if not sender.send_chunk(name, chunk):
            deferred.add(name)
    return sender.handed


def _next_window_of(sender: _Sender, name: str) -> datetime:
    limit = sender.limits[name]
    return window_start(timezone.now(), limit.per_seconds) + timedelta(seconds=limit.per_seconds)


def send_messages(message_ids: list[int]) -> int:
    """The job queued per chunk of a send: deliver these messages if they are still due."""
    return deliver(message_ids)


def recover_stuck(now=None) -> int:
    """Mark messages stuck in `sending` past the timeout as failed (unknown), never resending them."""
    now = now or timezone.now()
    timeout = timedelta(seconds=int(_conf("MESSAGE_SENDING_TIMEOUT_SECONDS", 600)))
    reason = _("The worker stopped while sending; not resent, so that it is never sent twice.")
    stuck = list(
        Message.objects.filter(status=MessageStatus.SENDING, sending_since__lt=now - timeout).values_list(
            "pk", flat=True
        )
    )
    for pk in stuck:
        with transaction.atomic():
            if Message.objects.filter(pk=pk, status=MessageStatus.SENDING).update(
                status=MessageStatus.FAILED, provider_code=UNKNOWN, reason=reason, sending_since=None
            ):
                DeliveryEvent.objects.create(message_id=pk, status=MessageStatus.FAILED, provider_code=UNKNOWN,
                                             detail=reason)  # fmt: skip
    return len(stuck)


def send_due(limit: int | None = None) -> int:
    """Recover stuck messages, then send those due (scheduled ones, retries, deferred by a rate limit),
    oldest first, in pages of KAM["MESSAGE_BATCH_PER_RUN"] until none is due or a page sends nothing."""
    recover_stuck()
    limit = limit or int(_conf("MESSAGE_BATCH_PER_RUN", 1000))
    handed = 0
    while True:
        due = list(
            Message.objects.filter(_due(timezone.now()))
            .order_by("scheduled_for", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        sent = deliver(due)
        handed += sent
        if len(due) < limit or not sent:
            return handed


@scheduled(name="messaging.send_due", cron="* * * * *")
def send_due_messages() -> None:
    """Every minute: queue the job that sends scheduled messages whose time has come and retries whose
    backoff has passed. Only queued here: the tick's body runs in its claim's transaction, and a channel
    must never be called inside a transaction."""
    enqueue("kam.messaging.jobs.send_due")


@scheduled(name="messaging.prepare_greetings", cron="0 6 * * *")
def prepare_greetings(tick: datetime) -> None:
    """Every morning: a holiday greeting (ENG-4) for each statutory holiday starting within
    KAM["GREETING_PREPARE_DAYS"] days of the tick's day, for a user to complete and send."""
    services.greetings_prepare(today=timezone.localdate(tick))

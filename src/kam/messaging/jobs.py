"""Sending the outbox (MSG-1): claim a message, call its channel outside any transaction, record the result.

Never sent twice: a message is claimed with one committed `UPDATE … SET status='sending' WHERE
status='queued'` — of two workers only one gets a row count of 1 — and only the winner calls the
provider. A message left in `sending` by a worker that died between the call and the recording of
its result is never sent again: after KAM["MESSAGE_SENDING_TIMEOUT_SECONDS"] it is marked failed
with provider code `unknown` (the provider may or may not have sent it; a delivery report arriving
later still turns it into `delivered`). A lost message is preferred to a duplicate SMS.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kam.core.jobs import enqueue, scheduled
from kam.messaging import config, services
from kam.messaging.channels.base import OutgoingMessage, SendResult
from kam.messaging.models import DeliveryEvent, Message, MessageStatus

logger = logging.getLogger(__name__)
UNKNOWN = "unknown"


def _due(now) -> Q:
    return Q(status=MessageStatus.QUEUED, scheduled_for__lte=now) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def message_claim(message_id: int) -> bool:
    """Move one due message from queued to sending in its own committed transaction; True if this caller won."""
    now = timezone.now()
    with transaction.atomic():
        won = Message.objects.filter(_due(now), pk=message_id).update(
            status=MessageStatus.SENDING, sending_since=now, attempts=F("attempts") + 1
        )
        if won:
            DeliveryEvent.objects.create(message_id=message_id, status=MessageStatus.SENDING)
    return won == 1


def _outgoing(message: Message) -> OutgoingMessage:
    return OutgoingMessage(
        recipient=message.recipient,
        text=message.body,
        subject=message.subject,
        template_code=message.provider_template_code,
        template_params=message.provider_params,
        reference=str(message.pk),
    )


class _Pacer:
    """Keeps the calls to one channel within its declared rate limit (within this job run)."""

    def __init__(self):
        self.last: dict[str, float] = {}

    def wait(self, name: str, channel) -> None:
        limit = channel.rate_limit
        if limit is None:
            return
        gap = 1.0 / limit.per_second
        if name in self.last and (left := self.last[name] + gap - time.monotonic()) > 0:
            time.sleep(left)
        self.last[name] = time.monotonic()


def deliver(message_ids, *, channels: dict | None = None, pacer: _Pacer | None = None) -> int:
    """Send the due messages among `message_ids`; returns how many this call handed to a channel."""
    channels = {} if channels is None else channels
    pacer = pacer or _Pacer()
    handed = 0
    for message_id in message_ids:
        if not message_claim(message_id):
            continue  # not due, or another worker has it
        message = Message.objects.get(pk=message_id)
        try:
            channel = channels.get(message.channel) or channels.setdefault(
                message.channel, config.channel(message.channel)
            )
        except ImproperlyConfigured as error:
            result = SendResult.failed(provider_code="not_configured", reason=str(error), temporary=False)
        else:
            pacer.wait(message.channel, channel)
            # Outside any transaction: the claim is committed, a slow provider holds no lock.
            result = channel.send(_outgoing(message))
            handed += 1
        services.message_record_result(message_id=message_id, result=result)
    return handed


def send_messages(message_ids: list[int]) -> int:
    """The job queued per chunk of a send: deliver these messages if they are still due."""
    return deliver(message_ids)


def recover_stuck(now=None) -> int:
    """Mark messages stuck in `sending` past the timeout as failed (unknown), never resending them."""
    now = now or timezone.now()
    timeout = timedelta(seconds=int(settings.KAM.get("MESSAGE_SENDING_TIMEOUT_SECONDS", 600)))
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
    """Recover stuck messages, then send those due (scheduled ones, retries), oldest first."""
    recover_stuck()
    limit = limit or int(settings.KAM.get("MESSAGE_BATCH_PER_RUN", 500))
    due = list(
        Message.objects.filter(_due(timezone.now()))
        .order_by("scheduled_for", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    return deliver(due)


@scheduled(name="messaging.send_due", cron="* * * * *")
def send_due_messages() -> None:
    """Every minute: queue the job that sends scheduled messages whose time has come and retries whose
    backoff has passed. Only queued here: the tick's body runs in its claim's transaction, and a channel
    must never be called inside a transaction."""
    enqueue("kam.messaging.jobs.send_due")

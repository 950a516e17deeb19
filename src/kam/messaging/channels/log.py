"""The demo channel: writes each message to the Python log instead of delivering it.

Used by the demo and by installations that have no provider configured yet; the outbox treats
it like any other channel, so the whole flow can be tried without credentials.
"""

from __future__ import annotations

import logging
import uuid

from .base import Channel, OutgoingMessage, SendResult

logger = logging.getLogger("kam.messaging.log")


class LogChannel(Channel):
    """Writes the message to the ``kam.messaging.log`` logger and reports it sent."""

    name = "log"
    max_batch = 1000

    def __init__(self, *, level: int = logging.INFO):
        self.level = level

    def _send(self, message: OutgoingMessage) -> SendResult:
        message_id = f"log-{uuid.uuid4().hex}"
        logger.log(
            self.level,
            "message %s to %s: %s",
            message_id,
            message.recipient or "-",
            message.subject or message.template_code or "-",
            extra={
                "message_id": message_id,
                "recipient": message.recipient,
                "text": message.text,
                "template_code": message.template_code,
                "template_params": dict(message.template_params),
                "reference": message.reference,
            },
        )
        if message.text:
            logger.log(self.level, "message %s text: %s", message_id, message.text)
        return SendResult.sent(provider_message_id=message_id, provider_code="logged")

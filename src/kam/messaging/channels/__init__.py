"""Channel adapters: how a message leaves KAM (SMS providers, e-mail, group robots, the demo log).

Pure adapters without database models; ``kam.messaging.config.channel(name)`` builds a configured
one. See docs/messaging.md.
"""

from .base import Channel, OutgoingMessage, RateLimit, SendResult, SendStatus

__all__ = ["Channel", "OutgoingMessage", "RateLimit", "SendResult", "SendStatus"]

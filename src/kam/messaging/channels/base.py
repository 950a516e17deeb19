"""What every channel adapter shares: the outgoing message, the send result, the channel contract.

Adapters are pure: no database, no Django models. The outbox (built elsewhere) stores messages,
calls ``Channel.send``/``Channel.send_batch``, records the ``SendResult`` and retries temporary
failures with backoff while keeping within each channel's declared ``rate_limits``.

A channel never lets an exception out of ``send``/``send_batch``: network errors and timeouts
become temporary failures, anything unexpected becomes a logged permanent failure.
"""

from __future__ import annotations

import enum
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.client import HTTPException
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0  # seconds; overridden by KAM_MESSAGING_TIMEOUT (see kam.messaging.config)


class SendStatus(enum.StrEnum):
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to one recipient.

    ``recipient`` is a phone number in E.164 (``+8613812345678``) for SMS, an e-mail address for
    e-mail, and for robots an optional mention: ``""`` (nobody), ``"@all"``, a phone number
    (WeCom, DingTalk) or a Feishu ``ou_…`` open id.

    Template SMS providers (Alibaba Cloud, Tencent Cloud) send only approved templates:
    ``template_code`` is the template code/id, ``template_params`` its variables and ``sign_name``
    the approved signature (the channel's configured default when empty). Tencent templates take
    positional parameters: the values are sent in the order of the keys if all keys are numbers
    (``{"1": …, "2": …}``), otherwise in insertion order.

    ``subject`` is the e-mail subject or the title of a robot markdown message; ``html`` an
    optional HTML alternative of an e-mail; ``markdown`` asks robots for a markdown message.
    ``reference`` is the caller's id for the message (the outbox row), passed to providers that
    echo it back (Alibaba ``OutId``, Tencent ``SessionContext``).
    """

    recipient: str
    text: str = ""
    subject: str = ""
    html: str = ""
    template_code: str = ""
    template_params: Mapping[str, str] = field(default_factory=dict)
    sign_name: str = ""
    markdown: bool = False
    reference: str = ""


@dataclass(frozen=True)
class SendResult:
    """What became of one message.

    ``temporary`` says whether retrying later (with backoff) makes sense: throttling, timeouts,
    the provider's 5xx and the like. A permanent failure (bad number, unapproved template, wrong
    credentials) will fail the same way again.
    """

    status: SendStatus
    provider_message_id: str = ""
    provider_code: str = ""
    reason: str = ""
    temporary: bool = False

    @property
    def ok(self) -> bool:
        return self.status == SendStatus.SENT

    @classmethod
    def sent(cls, provider_message_id: str = "", provider_code: str = "", reason: str = "") -> SendResult:
        return cls(SendStatus.SENT, provider_message_id, provider_code, reason, False)

    @classmethod
    def failed(cls, *, provider_code: str, reason: str, temporary: bool) -> SendResult:
        return cls(SendStatus.FAILED, "", provider_code, reason, temporary)


@dataclass(frozen=True)
class RateLimit:
    """At most ``messages`` requests per ``per_seconds`` seconds, as the provider documents it."""

    messages: int
    per_seconds: int

    @property
    def per_second(self) -> float:
        return self.messages / self.per_seconds


class TransportError(Exception):
    """The request did not get an HTTP answer: refused, reset, timed out, DNS failure."""


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: bytes
    headers: Mapping[str, str]

    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON (a proxy's HTML error page)."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None

    def text(self, limit: int = 200) -> str:
        return self.body[:limit].decode("utf-8", errors="replace")


def http_request(
    method: str, url: str, *, body: bytes | None = None, headers: Mapping[str, str] | None = None, timeout: float
) -> HttpReply:
    """Make one HTTP request with the standard library; any HTTP status is a reply, not an error."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise TransportError(_("Unsupported URL scheme: %(url)s") % {"url": url.split("?")[0]})
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked above)
            return HttpReply(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as error:
        with error:
            return HttpReply(error.code, error.read(), dict(error.headers or {}))
    except TimeoutError as error:
        raise TransportError(_("The provider did not answer in time (%(error)s).") % {"error": error}) from error
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise TransportError(
                _("The provider did not answer in time (%(error)s).") % {"error": error.reason}
            ) from error
        raise TransportError(_("Could not reach the provider (%(error)s).") % {"error": error.reason}) from error
    except (OSError, HTTPException) as error:
        raise TransportError(_("The connection to the provider failed (%(error)s).") % {"error": error}) from error


def json_body(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def invalid_message(reason: str) -> SendResult:
    """A message the channel cannot send as given (no template, no recipient): never retried."""
    return SendResult.failed(provider_code="invalid_message", reason=reason, temporary=False)


def unexpected_reply(reply: HttpReply) -> SendResult:
    """A reply the provider's documentation does not describe: retry only if the server failed."""
    return SendResult.failed(
        provider_code=f"http_{reply.status}",
        reason=_("Unexpected reply from the provider (HTTP %(status)s): %(body)s")
        % {"status": reply.status, "body": reply.text()},
        temporary=reply.status >= 500 or reply.status == 429,
    )


class Channel:
    """A way to deliver messages. Subclasses implement ``_send`` and, if the provider can, ``_send_batch``.

    ``rate_limits`` are the provider's documented request limits for one account/robot; the
    outbox keeps within all of them. ``max_batch`` is how many messages one ``send_batch``
    request carries at most (1: the channel sends one by one), ``batch_key`` which messages may
    share a request: the outbox hands ``send_batch`` up to ``max_batch`` messages of one key, which
    the provider then takes as ONE request. ``limit_counts_messages``: the provider's limit counts
    messages (SMTP), not requests, so a batch costs one unit per message.
    """

    name: ClassVar[str] = ""
    rate_limits: ClassVar[tuple[RateLimit, ...]] = ()
    max_batch: ClassVar[int] = 1
    limit_counts_messages: ClassVar[bool] = False

    def batch_key(self, message: OutgoingMessage) -> tuple:
        """Messages with equal keys can go out in one provider request (up to ``max_batch``)."""
        return ()

    @property
    def rate_limit(self) -> RateLimit | None:
        """The tightest sustained limit (lowest messages per second), or None when unlimited."""
        return min(self.rate_limits, key=lambda limit: limit.per_second, default=None)

    @property
    def supports_batch(self) -> bool:
        return self.max_batch > 1

    def send(self, message: OutgoingMessage) -> SendResult:
        return self._guard(1, lambda: [self._send(message)])[0]

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        """One result per message, in order."""
        messages = list(messages)
        if not messages:
            return []
        results = self._guard(len(messages), lambda: self._send_batch(messages))
        assert len(results) == len(messages)
        return results

    def _guard(self, count: int, call: Callable[[], list[SendResult]]) -> list[SendResult]:
        """Run one provider request for ``count`` messages; what escapes becomes ``count`` failures.

        Batch adapters guard each request on its own, so a timeout in the second request does not
        mark the messages the first request already delivered as failed (and so sent twice).
        """
        try:
            return call()
        except TransportError as error:
            return [SendResult.failed(provider_code="network_error", reason=str(error), temporary=True)] * count
        except Exception as error:  # the outbox must get a result, whatever the adapter did
            logger.exception("%s channel failed unexpectedly", self.name)
            return [SendResult.failed(provider_code="internal_error", reason=repr(error), temporary=False)] * count

    def _send(self, message: OutgoingMessage) -> SendResult:
        raise NotImplementedError

    def _send_batch(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        return [self.send(message) for message in messages]

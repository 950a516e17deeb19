"""E-mail through SMTP with Django's mail framework.

The SMTP backend is chosen explicitly (not ``settings.EMAIL_BACKEND``): the channel's host, port,
credentials and TLS mode come from the KAM_SMTP_* variables read in ``kam.messaging.config``.
Subject and body may be Chinese: Django encodes the message as UTF-8 (RFC 2047 for the subject).

Reply codes follow RFC 5321 §4.2.1: 4yz is a transient negative completion (try again later),
5yz a permanent one. Connection failures, timeouts and a server that hangs up are temporary too.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from email.utils import make_msgid, parseaddr

from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils.translation import gettext as _

from .base import DEFAULT_TIMEOUT, Channel, OutgoingMessage, RateLimit, SendResult, invalid_message

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


def smtp_failure(error: Exception) -> SendResult:
    """Map what smtplib (or the socket under it) raised to a send result."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(error.recipients.values()), (-1, b""))
    elif isinstance(error, smtplib.SMTPResponseException):
        code, text = error.smtp_code, error.smtp_error
    elif isinstance(error, smtplib.SMTPServerDisconnected):
        return SendResult.failed(provider_code="smtp_disconnected", reason=str(error), temporary=True)
    elif isinstance(error, ssl.SSLCertVerificationError):
        return SendResult.failed(provider_code="smtp_tls", reason=str(error), temporary=False)
    elif isinstance(error, OSError):
        return SendResult.failed(provider_code="network_error", reason=str(error), temporary=True)
    else:  # SMTPNotSupportedError, "no suitable authentication method": the configuration is wrong
        return SendResult.failed(provider_code="smtp_error", reason=str(error), temporary=False)
    reason = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else str(text)
    # A negative code means there was no reply at all (a connect error): worth another try.
    return SendResult.failed(provider_code=str(code), reason=reason, temporary=code < 0 or 400 <= code < 500)


class EmailChannel(Channel):
    """E-mail to customers and staff through the configured SMTP server."""

    name = "email"
    max_batch = 50  # messages sent over one SMTP session
    limit_counts_messages = True  # mail providers count messages, whatever the session

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str = "",
        password: str = "",
        use_tls: bool = False,
        use_ssl: bool = False,
        from_email: str,
        timeout: float = DEFAULT_TIMEOUT,
        max_per_minute: int = 0,
    ):
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.use_tls = use_tls
        self.use_ssl = use_ssl
        self.from_email = from_email
        self.timeout = timeout
        # SMTP has no documented rate: the operator sets what the mail provider allows.
        self.rate_limits = (RateLimit(max_per_minute, 60),) if max_per_minute > 0 else ()

    def connection(self):
        return get_connection(
            SMTP_BACKEND,
            fail_silently=False,
            host=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.use_tls,
            use_ssl=self.use_ssl,
            timeout=self.timeout,
        )

    def build(self, message: OutgoingMessage, connection) -> EmailMultiAlternatives:
        domain = parseaddr(self.from_email)[1].rpartition("@")[2] or "localhost"
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=self.from_email,
            to=[message.recipient],
            connection=connection,
            headers={"Message-ID": make_msgid(domain=domain)},
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        return email

    def _problem(self, message: OutgoingMessage) -> SendResult | None:
        if "@" not in message.recipient:
            return invalid_message(_("An e-mail needs an e-mail address."))
        if not (message.text or message.html):
            return invalid_message(_("The e-mail has no text."))
        return None

    def _send(self, message: OutgoingMessage) -> SendResult:
        return self._send_batch([message])[0]

    def _send_batch(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        results = [self._problem(message) for message in messages]
        pending = [index for index, result in enumerate(results) if result is None]
        if not pending:
            return results
        connection = self.connection()
        try:
            connection.open()
        except (smtplib.SMTPException, OSError) as error:
            failure = smtp_failure(error)
            for index in pending:
                results[index] = failure
            return results
        try:
            for index in pending:
                results[index] = self._deliver(messages[index], connection)
        finally:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                connection.close()  # the messages are out; a failed QUIT changes nothing
        return results

    def _deliver(self, message: OutgoingMessage, connection) -> SendResult:
        try:
            email = self.build(message, connection)
            email.send()
        except (smtplib.SMTPException, OSError) as error:
            return smtp_failure(error)
        except ValueError as error:  # a header Django refuses (a newline in the subject…)
            return invalid_message(str(error))
        return SendResult.sent(provider_message_id=email.extra_headers["Message-ID"].strip("<>"))

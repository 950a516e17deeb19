"""Tencent Cloud SMS, API 3.0 SendSms (version 2021-01-11), signed with TC3-HMAC-SHA256.

Documents followed:

* "签名方法 v3" / "Signature v3" of Tencent Cloud API 3.0 (the same page under every product's API
  documentation, e.g. https://tencentcloud.com/document/api/1150/49447). Its worked example
  (DescribeInstances, timestamp 1551113065) is reproduced by the tests:

  1. CanonicalRequest = Method + "\\n" + CanonicalURI + "\\n" + CanonicalQueryString + "\\n" +
     CanonicalHeaders + "\\n" + SignedHeaders + "\\n" + hex(SHA256(payload)); the headers are
     ``name:value\\n`` with name and value lower-cased and trimmed, sorted by name;
  2. StringToSign = "TC3-HMAC-SHA256\\n" + timestamp + "\\n" + date/service/tc3_request + "\\n" +
     hex(SHA256(CanonicalRequest)), the date being the UTC date of the timestamp;
  3. SecretDate = HMAC-SHA256("TC3" + SecretKey, date), SecretService = HMAC-SHA256(SecretDate,
     service), SecretSigning = HMAC-SHA256(SecretService, "tc3_request"), Signature =
     hex(HMAC-SHA256(SecretSigning, StringToSign));
  4. Authorization: "TC3-HMAC-SHA256 Credential=SecretId/scope, SignedHeaders=…, Signature=…"
     sent with the X-TC-Action, X-TC-Version, X-TC-Timestamp and X-TC-Region headers.

* SendSms 2021-01-11 (https://cloud.tencent.com/document/api/382/55981): PhoneNumberSet (E.164,
  up to 200, all mainland or all abroad), SmsSdkAppId, TemplateId, SignName, TemplateParamSet
  (positional strings), SessionContext; the reply's SendStatusSet has one Code per number
  ("Ok" when accepted) with its SerialNo. Default request limit 3000 per second.
* Error codes: the common API 3.0 codes (https://cloud.tencent.com/document/api/382/52075) and
  the SMS sending codes (https://cloud.tencent.com/document/api/382/59177).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from .base import (
    DEFAULT_TIMEOUT,
    Channel,
    HttpReply,
    OutgoingMessage,
    RateLimit,
    SendResult,
    http_request,
    invalid_message,
    json_body,
    unexpected_reply,
)

DEFAULT_ENDPOINT = "https://sms.tencentcloudapi.com/"
SERVICE = "sms"
API_VERSION = "2021-01-11"
ACTION = "SendSms"
ALGORITHM = "TC3-HMAC-SHA256"
CONTENT_TYPE = "application/json; charset=utf-8"

# Retrying later helps with quotas and frequency limits (LimitExceeded.*: per number per 30 s,
# hour, day; per app per day), request-rate limits, the platform's internal errors and timeouts,
# and an SMS package or account out of credit. Signature, template, number and parameter errors
# (AuthFailure.*, FailedOperation.*, InvalidParameter*, UnauthorizedOperation.*) are permanent.
TEMPORARY_PREFIXES = ("LimitExceeded", "RequestLimitExceeded", "InternalError", "ResourceUnavailable")
TEMPORARY_CODES = frozenset({"FailedOperation.InsufficientBalanceInSmsPackage"})


def is_temporary(code: str) -> bool:
    return code in TEMPORARY_CODES or code.startswith(TEMPORARY_PREFIXES)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_request(
    *, method: str, uri: str, query: str, headers: Mapping[str, str], payload: bytes
) -> tuple[str, str]:
    """The canonical request and the SignedHeaders list for ``headers`` (the ones signed)."""
    canonical = {name.strip().lower(): value.strip().lower() for name, value in headers.items()}
    names = sorted(canonical)
    canonical_headers = "".join(f"{name}:{canonical[name]}\n" for name in names)
    signed_headers = ";".join(names)
    text = "\n".join([method, uri, query, canonical_headers, signed_headers, sha256_hex(payload)])
    return text, signed_headers


def credential_scope(timestamp: int, service: str) -> str:
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    return f"{date}/{service}/tc3_request"


def string_to_sign(timestamp: int, scope: str, canonical: str) -> str:
    return f"{ALGORITHM}\n{timestamp}\n{scope}\n{sha256_hex(canonical.encode('utf-8'))}"


def signing_key(secret_key: str, date: str, service: str) -> bytes:
    def _hmac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()

    secret_date = _hmac(f"TC3{secret_key}".encode(), date)
    secret_service = _hmac(secret_date, service)
    return _hmac(secret_service, "tc3_request")


def signature(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def authorization(
    *, secret_id: str, secret_key: str, service: str, timestamp: int, canonical: str, signed_headers: str
) -> str:
    scope = credential_scope(timestamp, service)
    key = signing_key(secret_key, scope.split("/")[0], service)
    sig = signature(key, string_to_sign(timestamp, scope, canonical))
    return f"{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={signed_headers}, Signature={sig}"


def template_values(params: Mapping[str, str]) -> list[str]:
    """Tencent templates take ``{1}``, ``{2}``…: numbered keys in number order, else insertion order."""
    if params and all(str(key).isdigit() for key in params):
        return [str(params[key]) for key in sorted(params, key=int)]
    return [str(value) for value in params.values()]


def e164(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit() or ch == "+")


def number_key(phone: str) -> str:
    """Country code and number as digits, so ``+8613…``, ``008613…`` and ``13…`` match the reply."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if phone.strip().startswith("+"):
        return digits
    if digits.startswith("00"):
        return digits[2:]
    if len(digits) == 11:  # the docs let a mainland number go without its country code
        return f"86{digits}"
    return digits


class TencentSmsChannel(Channel):
    """Customer SMS through Tencent Cloud SMS (腾讯云短信)."""

    name = "tencent_sms"
    rate_limits = (RateLimit(3000, 1),)
    max_batch = 200

    def __init__(
        self,
        *,
        secret_id: str,
        secret_key: str,
        sdk_app_id: str,
        region: str = "ap-guangzhou",
        endpoint: str = DEFAULT_ENDPOINT,
        sign_name: str = "",
        timeout: float = DEFAULT_TIMEOUT,
    ):
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.sdk_app_id = sdk_app_id
        self.region = region
        self.endpoint = endpoint
        self.sign_name = sign_name
        self.timeout = timeout

    def batch_key(self, message: OutgoingMessage) -> tuple:
        """One SendSms: template, parameters and signature are shared by every number of the call."""
        return (message.template_code, tuple(template_values(message.template_params)),
                message.sign_name or self.sign_name)  # fmt: skip

    # -- requests -----------------------------------------------------------------------------

    def signed_headers(self, payload: bytes, timestamp: int) -> dict[str, str]:
        host = urlsplit(self.endpoint).netloc
        signed = {"Content-Type": CONTENT_TYPE, "Host": host, "X-TC-Action": ACTION}
        canonical, names = canonical_request(method="POST", uri="/", query="", headers=signed, payload=payload)
        auth = authorization(
            secret_id=self.secret_id,
            secret_key=self.secret_key,
            service=SERVICE,
            timestamp=timestamp,
            canonical=canonical,
            signed_headers=names,
        )
        return {
            **signed,
            "Authorization": auth,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Version": API_VERSION,
            "X-TC-Region": self.region,
        }

    def call(self, body: Mapping[str, object]) -> HttpReply:
        payload = json_body(body)
        headers = self.signed_headers(payload, int(time.time()))
        return http_request("POST", self.endpoint, body=payload, headers=headers, timeout=self.timeout)

    # -- sending ------------------------------------------------------------------------------

    def _problem(self, message: OutgoingMessage) -> SendResult | None:
        if not message.recipient.strip():
            return invalid_message(_("An SMS needs a phone number."))
        if not message.template_code:
            return invalid_message(_("Tencent Cloud SMS sends only approved templates: the template id is missing."))
        return None

    def _send(self, message: OutgoingMessage) -> SendResult:
        return self._send_batch([message])[0]

    def _send_batch(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        """One SendSms carries up to 200 numbers sharing template, parameters and signature."""
        results: list[SendResult | None] = [self._problem(message) for message in messages]
        groups: dict[tuple, list[int]] = {}
        for index, message in enumerate(messages):
            if results[index] is None:
                groups.setdefault(self.batch_key(message), []).append(index)
        for indexes in groups.values():
            for start in range(0, len(indexes), self.max_batch):
                chunk = indexes[start : start + self.max_batch]
                batch = [messages[i] for i in chunk]
                outcome = self._guard(len(batch), lambda batch=batch: self._send_one_request(batch))
                for index, result in zip(chunk, outcome, strict=True):
                    results[index] = result
        return [result for result in results if result is not None]

    def _send_one_request(self, batch: list[OutgoingMessage]) -> list[SendResult]:
        first = batch[0]
        body: dict[str, object] = {
            "PhoneNumberSet": [e164(m.recipient) for m in batch],
            "SmsSdkAppId": self.sdk_app_id,
            "TemplateId": first.template_code,
            "TemplateParamSet": template_values(first.template_params),
        }
        if sign_name := first.sign_name or self.sign_name:
            body["SignName"] = sign_name
        # SessionContext is one per request: sent when the request's messages share it (a single
        # message's outbox id); several numbers are told apart by their SerialNo instead.
        if first.reference and all(m.reference == first.reference for m in batch):
            body["SessionContext"] = first.reference
        reply = self.call(body)
        data = reply.json()
        response = data.get("Response") if isinstance(data, dict) else None
        if not isinstance(response, dict):
            return [unexpected_reply(reply)] * len(batch)
        if isinstance(error := response.get("Error"), dict):
            code = str(error.get("Code", ""))
            failure = SendResult.failed(
                provider_code=code, reason=str(error.get("Message", "")), temporary=is_temporary(code)
            )
            return [failure] * len(batch)
        statuses: dict[str, list[dict]] = {}
        for status in response.get("SendStatusSet") or []:
            statuses.setdefault(number_key(str(status.get("PhoneNumber", ""))), []).append(status)
        return [self._number_result(statuses, m) for m in batch]

    @staticmethod
    def _number_result(statuses: dict[str, list[dict]], message: OutgoingMessage) -> SendResult:
        candidates = statuses.get(number_key(message.recipient)) or []
        if not candidates:
            return SendResult.failed(
                provider_code="missing_status",
                reason=_("Tencent Cloud SMS returned no status for this number."),
                temporary=False,
            )
        status = candidates.pop(0)
        code = str(status.get("Code", ""))
        if code == "Ok":
            return SendResult.sent(provider_message_id=str(status.get("SerialNo", "")), provider_code=code)
        return SendResult.failed(
            provider_code=code, reason=str(status.get("Message", "")), temporary=is_temporary(code)
        )

"""Alibaba Cloud SMS (Dysmsapi 2017-05-25): SendSms and SendBatchSms, RPC style, HMAC-SHA1 signed.

Documents followed:

* Signature: "签名机制" / "Signature method" of Short Message Service
  (https://www.alibabacloud.com/help/zh/doc-detail/252839.htm, the RPC signature described the same
  way at https://help.aliyun.com/document_detail/28839.html) and the SMS "HTTP协议及签名" page
  (https://help.aliyun.com/document_detail/56189.html) whose worked example
  (testId/testSecret → ``zJDF+Lrzhj/ThnlvIToysFRq6t4=``) the tests reproduce:
  sort all parameters except ``Signature`` by name, percent-encode names and values as UTF-8
  (RFC 3986: ``A-Z a-z 0-9 - _ . ~`` stay, space is ``%20``, ``*`` is ``%2A``), join as
  ``name=value`` with ``&``; StringToSign = HTTPMethod + "&" + percentEncode("/") + "&" +
  percentEncode(canonicalized query); Signature = Base64(HMAC-SHA1(AccessKeySecret + "&",
  StringToSign)).
* Common parameters: "公共参数" (https://www.alibabacloud.com/help/zh/sms/common-parameters).
* SendSms (https://help.aliyun.com/document_detail/55284.htm): PhoneNumbers (up to 1000, comma
  separated; mainland numbers with or without +86, others as country code + number), SignName,
  TemplateCode, TemplateParam (JSON), OutId. QPS limit 5000 per user.
* SendBatchSms (https://help.aliyun.com/document_detail/66041.html): PhoneNumberJson,
  SignNameJson (one per number), TemplateCode (one for the batch), TemplateParamJson; at most
  100 numbers per call. QPS limit 5000 per user.
* Error codes: "API错误码" (https://help.aliyun.com/document_detail/101346.html).

Requests are POSTed with the parameters form-encoded in the body (the signature then starts
with ``POST&``), so a 100-number SendBatchSms never meets a URL length limit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote

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
    unexpected_reply,
)

DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
API_VERSION = "2017-05-25"

# Worth retrying later: flow control (per number or per account), daily/monthly caps set in the
# console, the platform's own failures, a nonce that happened to repeat, and an account that is
# out of credit (the messages go out once it is topped up). Everything else is permanent.
TEMPORARY_CODES = frozenset(
    {
        "isv.BUSINESS_LIMIT_CONTROL",
        "isv.DAY_LIMIT_CONTROL",
        "isv.MONTH_LIMIT_CONTROL",
        "isv.AMOUNT_NOT_ENOUGH",
        "isv.OUT_OF_SERVICE",
        "isp.SYSTEM_ERROR",
        "isp.GATEWAY_ERROR",
        "SignatureNonceUsed",
        "ServiceUnavailable",
        "InternalError",
    }
)


def percent_encode(value: str) -> str:
    """RFC 3986 encoding of UTF-8 bytes: only ``A-Z a-z 0-9 - _ . ~`` are left as they are."""
    return quote(value, safe="-_.~")


def canonicalized_query(params: Mapping[str, str]) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    return f"{method}&{percent_encode('/')}&{percent_encode(canonicalized_query(params))}"


def signature(access_key_secret: str, text: str) -> str:
    digest = hmac.new(f"{access_key_secret}&".encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def aliyun_phone(e164: str) -> str:
    """Mainland numbers as the 11 digits, others as country code + number without the plus."""
    number = "".join(ch for ch in e164 if ch.isdigit() or ch == "+")
    if number.startswith("+86"):
        return number[3:]
    return number.lstrip("+")


def is_temporary(code: str, http_status: int) -> bool:
    return code in TEMPORARY_CODES or code.startswith("Throttling") or http_status >= 500


class AliyunSmsChannel(Channel):
    """Customer SMS through Alibaba Cloud SMS (阿里云短信服务)."""

    name = "aliyun_sms"
    rate_limits = (RateLimit(5000, 1),)
    max_batch = 100

    def __init__(
        self,
        *,
        access_key_id: str,
        access_key_secret: str,
        endpoint: str = DEFAULT_ENDPOINT,
        region_id: str = "cn-hangzhou",
        sign_name: str = "",
        timeout: float = DEFAULT_TIMEOUT,
    ):
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.endpoint = endpoint
        self.region_id = region_id
        self.sign_name = sign_name
        self.timeout = timeout

    def batch_key(self, message: OutgoingMessage) -> tuple:
        """SendBatchSms: one template per call; numbers, signatures and parameters per number."""
        return (message.template_code,)

    # -- requests -----------------------------------------------------------------------------

    def signed_body(self, action: str, params: Mapping[str, str]) -> bytes:
        """The form-encoded POST body: common parameters, ``params`` and the Signature."""
        all_params = {
            "AccessKeyId": self.access_key_id,
            "Action": action,
            "Format": "JSON",
            "RegionId": self.region_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": API_VERSION,
            **params,
        }
        sig = signature(self.access_key_secret, string_to_sign("POST", all_params))
        return f"{canonicalized_query(all_params)}&Signature={percent_encode(sig)}".encode("ascii")

    def call(self, action: str, params: Mapping[str, str]) -> HttpReply:
        return http_request(
            "POST",
            self.endpoint,
            body=self.signed_body(action, params),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            timeout=self.timeout,
        )

    # -- sending ------------------------------------------------------------------------------

    def _problem(self, message: OutgoingMessage) -> SendResult | None:
        if not message.recipient.strip():
            return invalid_message(_("An SMS needs a phone number."))
        if not message.template_code:
            return invalid_message(_("Alibaba Cloud SMS sends only approved templates: the template code is missing."))
        if not (message.sign_name or self.sign_name):
            return invalid_message(_("Alibaba Cloud SMS needs a signature name (KAM_ALIYUN_SMS_SIGN_NAME)."))
        return None

    def _send(self, message: OutgoingMessage) -> SendResult:
        if problem := self._problem(message):
            return problem
        params = {
            "PhoneNumbers": aliyun_phone(message.recipient),
            "SignName": message.sign_name or self.sign_name,
            "TemplateCode": message.template_code,
        }
        if message.template_params:
            params["TemplateParam"] = json.dumps(dict(message.template_params), ensure_ascii=False)
        if message.reference:
            params["OutId"] = message.reference
        return self._result(self.call("SendSms", params))

    def _send_batch(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        """SendBatchSms takes one template per call: group by template, 100 numbers a call."""
        results: list[SendResult | None] = [self._problem(message) for message in messages]
        by_template: dict[str, list[int]] = {}
        for index, message in enumerate(messages):
            if results[index] is None:
                by_template.setdefault(message.template_code, []).append(index)
        for indexes in by_template.values():
            for start in range(0, len(indexes), self.max_batch):
                chunk = indexes[start : start + self.max_batch]
                batch = [messages[i] for i in chunk]
                if len(batch) == 1:
                    outcome = [self.send(batch[0])]
                else:
                    outcome = self._guard(len(batch), lambda batch=batch: self._send_one_batch(batch))
                for index, result in zip(chunk, outcome, strict=True):
                    results[index] = result
        return [result for result in results if result is not None]

    def _send_one_batch(self, batch: list[OutgoingMessage]) -> list[SendResult]:
        params = {
            "PhoneNumberJson": json.dumps([aliyun_phone(m.recipient) for m in batch]),
            "SignNameJson": json.dumps([m.sign_name or self.sign_name for m in batch], ensure_ascii=False),
            "TemplateCode": batch[0].template_code,
        }
        if any(m.template_params for m in batch):
            params["TemplateParamJson"] = json.dumps([dict(m.template_params) for m in batch], ensure_ascii=False)
        # One BizId covers the whole call: the receipts (QuerySendDetails) tell numbers apart.
        return [self._result(self.call("SendBatchSms", params))] * len(batch)

    @staticmethod
    def _result(reply: HttpReply) -> SendResult:
        data = reply.json()
        if not isinstance(data, dict) or not data.get("Code"):
            return unexpected_reply(reply)
        code = str(data["Code"])
        if code == "OK" and reply.status < 400:
            return SendResult.sent(provider_message_id=str(data.get("BizId", "")), provider_code=code)
        return SendResult.failed(
            provider_code=code, reason=str(data.get("Message", "")), temporary=is_temporary(code, reply.status)
        )

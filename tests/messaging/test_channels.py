"""Messaging channel adapters against local stand-ins for the providers (MSG-3).

Each provider is played by a local HTTP server (or, for e-mail, a local SMTP server) that checks
the request the way the provider's documentation describes it and recomputes the signature with
an implementation written here from the documentation — not with the adapter's own signing code —
so a signing mistake in the adapter is refused as the provider would refuse it. The documented
worked examples (Alibaba Cloud's SMS signature example, Tencent Cloud's TC3 example) pin both
implementations to the providers' own numbers.
"""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import logging
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote_plus, unquote, urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from django.core.exceptions import ImproperlyConfigured

from kam.messaging import config
from kam.messaging.channels import OutgoingMessage, RateLimit, SendStatus, aliyun_sms, tencent_sms
from kam.messaging.channels.aliyun_sms import AliyunSmsChannel
from kam.messaging.channels.email import EmailChannel
from kam.messaging.channels.log import LogChannel
from kam.messaging.channels.robots import DingTalkRobotChannel, FeishuRobotChannel, WeComRobotChannel
from kam.messaging.channels.tencent_sms import TencentSmsChannel

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

PHONE = "+8613800138000"
OTHER_PHONE = "+8613900139000"


# ---------------------------------------------------------------------------------------------
# A local HTTP server that plays a provider
# ---------------------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def query_params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        split = urlsplit(self.path)
        request = Request(self.command, split.path, split.query, {k.lower(): v for k, v in self.headers.items()}, body)
        provider = self.server.provider
        provider.requests.append(request)
        status, reply = provider.handle(request)
        data = reply if isinstance(reply, bytes) else json.dumps(reply, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST

    def log_message(self, format, *args):  # keep the test output quiet
        pass


class Provider:
    """Serves ``handle(request) -> (status, json-able reply)`` on 127.0.0.1 and a free port."""

    def __init__(self, handle):
        self.handle = handle
        self.requests: list[Request] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.provider = self
        # A short poll interval: shutdown() waits for the serving loop to notice.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve():
    started: list[Provider] = []

    def start(handle) -> Provider:
        provider = Provider(handle)
        started.append(provider)
        return provider

    yield start
    for provider in started:
        provider.close()


def request_id() -> str:
    return str(uuid.uuid4()).upper()


# ---------------------------------------------------------------------------------------------
# Alibaba Cloud SMS, as its signature documentation describes the check
# ---------------------------------------------------------------------------------------------


def doc_aliyun_percent_encode(value: str) -> str:
    """The documentation's recipe: form-encode as UTF-8, then + → %20, * → %2A, %7E → ~."""
    return quote_plus(value, encoding="utf-8").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


def doc_aliyun_string_to_sign(method: str, params: dict[str, str]) -> str:
    pairs = sorted((doc_aliyun_percent_encode(k), doc_aliyun_percent_encode(v)) for k, v in params.items())
    canonical = "&".join(f"{k}={v}" for k, v in pairs)
    return method + "&" + doc_aliyun_percent_encode("/") + "&" + doc_aliyun_percent_encode(canonical)


def doc_aliyun_signature(secret: str, method: str, params: dict[str, str]) -> str:
    text = doc_aliyun_string_to_sign(method, params)
    return base64.b64encode(hmac.new((secret + "&").encode(), text.encode(), hashlib.sha1).digest()).decode()


ALIYUN_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
ALIYUN_PHONE = re.compile(r"^(?:\+|\+86|0086|86)?1\d{10}$|^[1-9]\d{6,15}$")


class FakeAliyun:
    """Dysmsapi 2017-05-25: common parameters, HMAC-SHA1 signature, SendSms and SendBatchSms."""

    access_key_id = "LTAI5tKamTest"
    access_key_secret = "kam-aliyun-secret"

    def __init__(self):
        self.keys = {self.access_key_id: self.access_key_secret}
        self.nonces: set[str] = set()
        self.codes: dict[str, tuple[str, str]] = {}  # phone (as sent) → business error
        self.actions: list[tuple[str, dict[str, str]]] = []
        self.batches: list[list[tuple]] = []  # (number, signature, parameters) of each SendBatchSms

    @staticmethod
    def error(status, code, message):
        return status, {"RequestId": request_id(), "HostId": "dysmsapi.aliyuncs.com", "Code": code, "Message": message}

    def __call__(self, request: Request):
        if request.method != "POST" or request.path != "/":
            return self.error(404, "InvalidAction.NotFound", "Specified api is not found.")
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return self.error(400, "InvalidParameter", "form-encoded body expected")
        pairs = parse_qsl(request.body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
        params = dict(pairs)
        if len(params) != len(pairs):
            return self.error(400, "InvalidParameter", "a parameter appears twice")
        for name in ("AccessKeyId", "Action", "SignatureMethod", "SignatureNonce", "SignatureVersion", "Timestamp",
                     "Version", "Signature"):  # fmt: skip
            if not params.get(name):
                return self.error(400, f"Missing{name}", f"{name} is mandatory for this action.")
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            return self.error(400, "InvalidSignatureMethod", "Specified signature method is not valid.")
        if params["Version"] != "2017-05-25" or params.get("Format", "XML") != "JSON":
            return self.error(400, "InvalidVersion", "Specified parameter Version is not valid.")
        if not ALIYUN_TIMESTAMP.match(params["Timestamp"]):
            return self.error(400, "InvalidTimeStamp.Format", "Specified time stamp is not valid.")
        sent_at = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if abs((datetime.now(UTC) - sent_at).total_seconds()) > 900:
            return self.error(400, "InvalidTimeStamp.Expired", "Specified time stamp or date header is expired.")
        if params["SignatureNonce"] in self.nonces:
            return self.error(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        self.nonces.add(params["SignatureNonce"])
        secret = self.keys.get(params["AccessKeyId"])
        if secret is None:
            return self.error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        signature = params.pop("Signature")
        if not hmac.compare_digest(signature, doc_aliyun_signature(secret, "POST", params)):
            return self.error(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation. server string to sign is:"
                + doc_aliyun_string_to_sign("POST", params),
            )
        self.actions.append((params["Action"], params))
        if params["Action"] == "SendSms":
            return self.send_sms(params)
        if params["Action"] == "SendBatchSms":
            return self.send_batch_sms(params)
        return self.error(404, "InvalidAction.NotFound", "Specified api is not found.")

    def business(self, phones):
        for phone in phones:
            if not ALIYUN_PHONE.match(phone):
                return 200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号", "RequestId": request_id()}
            if phone in self.codes:
                code, message = self.codes[phone]
                return 200, {"Code": code, "Message": message, "RequestId": request_id()}
        return 200, {
            "Code": "OK",
            "Message": "OK",
            "BizId": f"{uuid.uuid4().int % 10**15}^0",
            "RequestId": request_id(),
        }

    def send_sms(self, params):
        for name in ("PhoneNumbers", "SignName", "TemplateCode"):
            if not params.get(name):
                return self.error(400, f"Missing{name}", f"{name} is mandatory for this action.")
        if "TemplateParam" in params and not isinstance(json.loads(params["TemplateParam"]), dict):
            return 200, {"Code": "isv.INVALID_JSON_PARAM", "Message": "JSON参数不合法", "RequestId": request_id()}
        return self.business(params["PhoneNumbers"].split(","))

    def send_batch_sms(self, params):
        for name in ("PhoneNumberJson", "SignNameJson", "TemplateCode"):
            if not params.get(name):
                return self.error(400, f"Missing{name}", f"{name} is mandatory for this action.")
        # As documented: JSON arrays of strings, as many signatures (and parameter objects, when given)
        # as numbers, at most 100 numbers, OutId shorter than 256 characters.
        try:
            phones, signs = json.loads(params["PhoneNumberJson"]), json.loads(params["SignNameJson"])
            template_params = json.loads(params["TemplateParamJson"]) if "TemplateParamJson" in params else None
        except ValueError:
            return 200, {"Code": "isv.INVALID_JSON_PARAM", "Message": "JSON参数不合法", "RequestId": request_id()}
        well_formed = (
            isinstance(phones, list) and isinstance(signs, list) and 1 <= len(phones) <= 100
            and len(signs) == len(phones) and all(isinstance(v, str) and v for v in phones + signs)
            and (template_params is None or (isinstance(template_params, list) and len(template_params) == len(phones)
                                             and all(isinstance(p, dict) for p in template_params)))
            and len(params.get("OutId", "")) < 256
        )  # fmt: skip
        if not well_formed:
            return 200, {"Code": "isv.INVALID_PARAMETERS", "Message": "参数异常", "RequestId": request_id()}
        self.batches.append(list(zip(phones, signs, template_params or [None] * len(phones), strict=True)))
        return self.business(phones)


@pytest.fixture
def aliyun(serve):
    fake = FakeAliyun()
    provider = serve(fake)
    channel = AliyunSmsChannel(
        access_key_id="LTAI5tKamTest",
        access_key_secret="kam-aliyun-secret",
        endpoint=provider.url + "/",
        sign_name="华东大客户部",
        timeout=5,
    )
    return fake, provider, channel


def sms(phone=PHONE, template="SMS_123456789", **params):
    return OutgoingMessage(recipient=phone, template_code=template, template_params=params or {"name": "李娜"})


# The SMS "HTTP协议及签名" page (help.aliyun.com/document_detail/56189.html): SendSms with
# AccessKeyId testId, secret testSecret, signed with GET.
ALIYUN_DOC_PARAMS = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}
ALIYUN_DOC_SIGNATURE = "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_msg3_aliyun_signature_reproduces_the_documented_example():
    text = aliyun_sms.string_to_sign("GET", ALIYUN_DOC_PARAMS)
    assert text.startswith("GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123")
    assert "SignName%3D%25E9%2598%25BF%25E9%2587%258C" in text  # UTF-8, encoded once more in the string
    assert aliyun_sms.signature("testSecret", text) == ALIYUN_DOC_SIGNATURE
    # The server stand-in's own implementation agrees with the documentation too.
    assert doc_aliyun_signature("testSecret", "GET", ALIYUN_DOC_PARAMS) == ALIYUN_DOC_SIGNATURE


def test_msg3_aliyun_signature_matches_the_rpc_signature_example():
    # The general RPC "签名机制" example (DescribeRegions, testid/testsecret).
    params = {"TimeStamp": "2016-02-23T12:46:24Z", "Format": "XML", "AccessKeyId": "testid",
              "Action": "DescribeRegions", "SignatureMethod": "HMAC-SHA1",
              "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", "Version": "2014-05-26",
              "SignatureVersion": "1.0"}  # fmt: skip
    assert (
        aliyun_sms.signature("testsecret", aliyun_sms.string_to_sign("GET", params)) == "CT9X0VtwR86fNWSnsc6v8YGOjuE="
    )


def test_msg3_aliyun_percent_encoding_follows_rfc3986():
    assert aliyun_sms.percent_encode("a b*c~d+e/f") == "a%20b%2Ac~d%2Be%2Ff"
    assert aliyun_sms.percent_encode("a b*c~d+e/f") == doc_aliyun_percent_encode("a b*c~d+e/f")


def test_msg3_aliyun_sms_send_is_signed_and_returns_the_biz_id(aliyun):
    fake, provider, channel = aliyun
    message = OutgoingMessage(
        recipient=PHONE, template_code="SMS_123456789", template_params={"name": "李娜", "time": "9:30 明天"},
        reference="outbox-42",
    )  # fmt: skip
    result = channel.send(message)
    assert result.ok, result
    assert result.status == SendStatus.SENT
    assert result.provider_message_id.endswith("^0")
    assert result.provider_code == "OK"
    action, params = fake.actions[0]
    assert action == "SendSms"
    assert params["PhoneNumbers"] == "13800138000"
    assert params["SignName"] == "华东大客户部"
    assert json.loads(params["TemplateParam"]) == {"name": "李娜", "time": "9:30 明天"}
    assert params["OutId"] == "outbox-42"
    assert params["RegionId"] == "cn-hangzhou"


def test_msg3_aliyun_sms_batch_sends_one_send_batch_sms_per_template(aliyun):
    fake, provider, channel = aliyun
    messages = [
        sms(PHONE, name="李娜"),
        sms("+85261234567", template="SMS_999", name="Lee"),
        sms(OTHER_PHONE, name="王伟"),
    ]
    results = channel.send_batch(messages)
    assert [r.ok for r in results] == [True, True, True], results
    assert results[0].provider_message_id == results[2].provider_message_id  # one call, one BizId
    actions = {action: params for action, params in fake.actions}
    batch = actions["SendBatchSms"]
    assert json.loads(batch["PhoneNumberJson"]) == ["13800138000", "13900139000"]
    assert json.loads(batch["SignNameJson"]) == ["华东大客户部", "华东大客户部"]
    assert json.loads(batch["TemplateParamJson"]) == [{"name": "李娜"}, {"name": "王伟"}]
    assert batch["TemplateCode"] == "SMS_123456789"
    assert actions["SendSms"]["PhoneNumbers"] == "85261234567"  # abroad: country code and number


def test_msg3_aliyun_send_batch_sms_stand_in_refuses_what_the_documentation_forbids(aliyun):
    """MSG-3: SendBatchSms needs as many signatures and parameter objects as numbers, and at most 100 numbers."""
    fake, provider, channel = aliyun
    phones = json.dumps(["13800138000", "13900139000"])
    bad = [
        {"PhoneNumberJson": phones, "SignNameJson": json.dumps(["华东大客户部"]), "TemplateCode": "SMS_1"},
        {"PhoneNumberJson": phones, "SignNameJson": json.dumps(["华东大客户部"] * 2), "TemplateCode": "SMS_1",
         "TemplateParamJson": json.dumps([{"name": "李娜"}])},
        {"PhoneNumberJson": json.dumps([f"1380013{i:04d}" for i in range(101)]),
         "SignNameJson": json.dumps(["华东大客户部"] * 101), "TemplateCode": "SMS_1"},
        {"PhoneNumberJson": "13800138000", "SignNameJson": json.dumps(["华东大客户部"]), "TemplateCode": "SMS_1"},
    ]  # fmt: skip
    codes = [channel.call("SendBatchSms", params).json()["Code"] for params in bad]
    assert codes == ["isv.INVALID_PARAMETERS"] * 4
    assert fake.batches == []
    good = {"PhoneNumberJson": phones, "SignNameJson": json.dumps(["华东大客户部"] * 2), "TemplateCode": "SMS_1",
            "TemplateParamJson": json.dumps([{"name": "李娜"}, {"name": "王伟"}], ensure_ascii=False)}  # fmt: skip
    assert channel.call("SendBatchSms", good).json()["Code"] == "OK"
    assert fake.batches == [[("13800138000", "华东大客户部", {"name": "李娜"}),
                             ("13900139000", "华东大客户部", {"name": "王伟"})]]  # fmt: skip


def test_msg3_aliyun_sms_throttling_is_a_temporary_failure(aliyun):
    fake, provider, channel = aliyun
    fake.codes["13800138000"] = ("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1")
    result = channel.send(sms())
    assert result.status == SendStatus.FAILED
    assert result.temporary is True
    assert result.provider_code == "isv.BUSINESS_LIMIT_CONTROL"
    assert result.reason == "触发分钟级流控Permits:1"


@pytest.mark.parametrize(
    "code, message",
    [("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号"), ("isv.TEMPLATE_MISSING_PARAMETERS", "模板缺少变量"),
     ("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")],
)  # fmt: skip
def test_msg3_aliyun_sms_permanent_errors_keep_the_providers_reason(aliyun, code, message):
    fake, provider, channel = aliyun
    fake.codes["13800138000"] = (code, message)
    result = channel.send(sms())
    assert (result.status, result.temporary, result.provider_code, result.reason) == ("failed", False, code, message)


def test_msg3_aliyun_sms_batch_failure_applies_to_every_number_of_the_call(aliyun):
    fake, provider, channel = aliyun
    fake.codes["13900139000"] = ("isv.BUSINESS_LIMIT_CONTROL", "触发小时级流控Permits:5")
    results = channel.send_batch([sms(PHONE), sms(OTHER_PHONE)])
    assert [(r.ok, r.temporary) for r in results] == [(False, True), (False, True)]


def test_msg3_aliyun_sms_wrong_secret_is_refused_as_signature_does_not_match(aliyun):
    fake, provider, channel = aliyun
    channel.access_key_secret = "not-the-secret"
    result = channel.send(sms())
    assert result.status == SendStatus.FAILED
    assert result.temporary is False
    assert result.provider_code == "SignatureDoesNotMatch"
    assert result.reason.startswith("Specified signature is not matched with our calculation.")
    assert fake.actions == []


def test_msg3_aliyun_sms_unknown_access_key_is_permanent(aliyun):
    fake, provider, channel = aliyun
    channel.access_key_id = "LTAI-unknown"
    result = channel.send(sms())
    assert (result.provider_code, result.temporary) == ("InvalidAccessKeyId.NotFound", False)


def test_msg3_aliyun_sms_every_request_carries_a_new_nonce(aliyun):
    fake, provider, channel = aliyun
    assert channel.send(sms()).ok
    assert channel.send(sms()).ok  # the stand-in refuses a repeated nonce (SignatureNonceUsed)
    assert len(fake.nonces) == 2


def test_msg3_aliyun_sms_without_template_is_refused_before_any_request(aliyun):
    fake, provider, channel = aliyun
    result = channel.send(OutgoingMessage(recipient=PHONE, text="自由文本"))
    assert (result.status, result.provider_code, result.temporary) == ("failed", "invalid_message", False)
    assert provider.requests == []


# ---------------------------------------------------------------------------------------------
# Tencent Cloud SMS, TC3-HMAC-SHA256 as the "签名方法 v3" documentation describes it
# ---------------------------------------------------------------------------------------------


def doc_tc3_signature(secret_key: str, *, service: str, timestamp: int, canonical_request: str) -> str:
    """Steps 2 and 3 of the documentation, written out."""
    date = time.strftime("%Y-%m-%d", time.gmtime(timestamp))
    hashed = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    to_sign = "TC3-HMAC-SHA256\n" + str(timestamp) + "\n" + f"{date}/{service}/tc3_request" + "\n" + hashed
    secret_date = hmac.new(("TC3" + secret_key).encode("utf-8"), date.encode("utf-8"), hashlib.sha256).digest()
    secret_service = hmac.new(secret_date, service.encode("utf-8"), hashlib.sha256).digest()
    secret_signing = hmac.new(secret_service, b"tc3_request", hashlib.sha256).digest()
    return hmac.new(secret_signing, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def doc_tc3_canonical_request(method: str, headers: dict[str, str], signed: list[str], payload: bytes) -> str:
    """Step 1: ``POST``, ``/``, empty query, ``key:value\\n`` (lower-cased, trimmed), signed names, hash."""
    canonical_headers = "".join(f"{name}:{headers[name].strip().lower()}\n" for name in signed)
    return "\n".join(["POST", "/", "", canonical_headers, ";".join(signed), hashlib.sha256(payload).hexdigest()])


TC3_AUTHORIZATION = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[a-z]+)/tc3_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})$"
)


class FakeTencent:
    """sms.tencentcloudapi.com: API 3.0 common headers, TC3 signature, SendSms 2021-01-11."""

    secret_id = "AKIDkamTest"
    secret_key = "kam-tencent-secret"
    app_id = "1400006666"

    def __init__(self):
        self.keys = {self.secret_id: self.secret_key}
        self.codes: dict[str, tuple[str, str]] = {}  # phone → per-number status
        self.error: tuple[str, str] | None = None  # a request-level error
        self.bodies: list[dict] = []

    @staticmethod
    def fail(code, message):
        return 200, {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": str(uuid.uuid4())}}

    def __call__(self, request: Request):
        h = request.headers
        if request.method != "POST" or request.path != "/":
            return self.fail("InvalidAction", "The action requested does not exist.")
        if h.get("content-type") != "application/json; charset=utf-8":
            return self.fail("InvalidParameter", "Content-Type must be application/json; charset=utf-8")
        if h.get("x-tc-action") != "SendSms" or h.get("x-tc-version") != "2021-01-11" or not h.get("x-tc-region"):
            return self.fail("MissingParameter", "X-TC-Action SendSms, X-TC-Version 2021-01-11 and X-TC-Region")
        if not (h.get("x-tc-timestamp") or "").isdigit():
            return self.fail("InvalidParameter", "X-TC-Timestamp must be a Unix timestamp")
        timestamp = int(h["x-tc-timestamp"])
        if abs(time.time() - timestamp) > 300:
            return self.fail("AuthFailure.SignatureExpire", "Signature expired.")
        auth = TC3_AUTHORIZATION.match(h.get("authorization", ""))
        if not auth:
            return self.fail("AuthFailure.InvalidAuthorization", "Authorization is invalid.")
        secret_key = self.keys.get(auth["id"])
        if secret_key is None:
            return self.fail("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
        signed = auth["signed"].split(";")
        if (
            auth["service"] != "sms"
            or auth["date"] != time.strftime("%Y-%m-%d", time.gmtime(timestamp))
            or not {"content-type", "host"} <= set(signed)
            or signed != sorted(signed)
            or any(name not in h for name in signed)
        ):
            return self.fail("AuthFailure.InvalidAuthorization", "Credential scope or SignedHeaders is invalid.")
        canonical = doc_tc3_canonical_request("POST", h, signed, request.body)
        expected = doc_tc3_signature(secret_key, service="sms", timestamp=timestamp, canonical_request=canonical)
        if not hmac.compare_digest(expected, auth["signature"]):
            return self.fail(
                "AuthFailure.SignatureFailure",
                "The provided credentials could not be validated. Please check your signature is correct.",
            )
        body = request.json()
        self.bodies.append(body)
        phones = body.get("PhoneNumberSet")
        if not isinstance(phones, list) or not 1 <= len(phones) <= 200:
            return self.fail("MissingParameter", "PhoneNumberSet")
        if body.get("SmsSdkAppId") != self.app_id:
            return self.fail("InvalidParameterValue.SdkAppIdNotExist", "SdkAppId不存在。")
        if not body.get("TemplateId") or not all(isinstance(p, str) for p in body.get("TemplateParamSet", [])):
            return self.fail("InvalidParameter", "TemplateId / TemplateParamSet")
        if self.error:
            return self.fail(*self.error)
        statuses = []
        for phone in phones:
            code, message = self.codes.get(phone, ("Ok", "send success"))
            if code == "Ok" and not re.match(r"^\+861\d{10}$", phone):
                code, message = "InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误"
            serial = f"3369:{uuid.uuid4().int % 10**30}" if code == "Ok" else ""
            statuses.append({"SerialNo": serial, "PhoneNumber": phone, "Fee": 1 if code == "Ok" else 0,
                             "SessionContext": body.get("SessionContext", ""), "Code": code, "Message": message,
                             "IsoCode": "CN"})  # fmt: skip
        return 200, {"Response": {"SendStatusSet": statuses, "RequestId": str(uuid.uuid4())}}


@pytest.fixture
def tencent(serve):
    fake = FakeTencent()
    provider = serve(fake)
    channel = TencentSmsChannel(
        secret_id="AKIDkamTest",
        secret_key="kam-tencent-secret",
        sdk_app_id="1400006666",
        endpoint=provider.url + "/",
        sign_name="华东大客户部",
        timeout=5,
    )
    return fake, provider, channel


# "签名方法 v3", worked example: DescribeInstances on cvm, timestamp 1551113065.
TC3_DOC_PAYLOAD = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'


def test_msg3_tencent_tc3_reproduces_the_documented_example():
    # The example as first published (SignedHeaders content-type;host), end to end.
    headers = {"content-type": "application/json; charset=utf-8", "host": "cvm.tencentcloudapi.com"}
    canonical, signed = tencent_sms.canonical_request(method="POST", uri="/", query="", headers=headers,
                                                      payload=TC3_DOC_PAYLOAD)  # fmt: skip
    assert (
        hashlib.sha256(TC3_DOC_PAYLOAD).hexdigest()
        == "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    )
    assert (
        hashlib.sha256(canonical.encode()).hexdigest()
        == "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    )
    header = tencent_sms.authorization(
        secret_id="AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******", secret_key="Gu5t9xGARNpq86cd98joQYCN3*******",
        service="cvm", timestamp=1551113065, canonical=canonical, signed_headers=signed,
    )  # fmt: skip
    assert header == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, "
        "SignedHeaders=content-type;host, "
        "Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
    )
    # The stand-in's own implementation reaches the same signature.
    assert doc_tc3_signature("Gu5t9xGARNpq86cd98joQYCN3*******", service="cvm", timestamp=1551113065,
                             canonical_request=canonical) == header.rsplit("=", 1)[1]  # fmt: skip


def test_msg3_tencent_tc3_matches_the_current_example_with_x_tc_action():
    # The current page signs x-tc-action too and publishes the derived SecretSigning (its key is masked).
    headers = {"Content-Type": "application/json; charset=utf-8", "Host": "cvm.tencentcloudapi.com",
               "X-TC-Action": "DescribeInstances"}  # fmt: skip
    canonical, signed = tencent_sms.canonical_request(method="POST", uri="/", query="", headers=headers,
                                                      payload=TC3_DOC_PAYLOAD)  # fmt: skip
    assert signed == "content-type;host;x-tc-action"
    assert "x-tc-action:describeinstances\n" in canonical
    scope = tencent_sms.credential_scope(1551113065, "cvm")
    text = tencent_sms.string_to_sign(1551113065, scope, canonical)
    assert text == ("TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
                    "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84")  # fmt: skip
    secret_signing = bytes.fromhex("b596b923aad85185e2d1f6659d2a062e0a86731226e021e61bfe06f7ed05f5af")
    assert (
        tencent_sms.signature(secret_signing, text)
        == "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f"
    )


def test_msg3_tencent_sms_send_is_signed_and_returns_the_serial_number(tencent):
    fake, provider, channel = tencent
    message = OutgoingMessage(recipient=PHONE, template_code="1110", template_params={"2": "明天 9:30", "1": "李娜"},
                              reference="outbox-7")  # fmt: skip
    result = channel.send(message)
    assert result.ok, result
    assert result.provider_code == "Ok"
    assert result.provider_message_id.startswith("3369:")
    body = fake.bodies[0]
    assert body == {"PhoneNumberSet": [PHONE], "SmsSdkAppId": "1400006666", "TemplateId": "1110",
                    "TemplateParamSet": ["李娜", "明天 9:30"], "SignName": "华东大客户部",
                    "SessionContext": "outbox-7"}  # fmt: skip
    headers = provider.requests[0].headers
    assert headers["x-tc-region"] == "ap-guangzhou"
    assert "SignedHeaders=content-type;host;x-tc-action," in headers["authorization"]


def test_msg3_tencent_sms_batch_shares_one_request_and_maps_each_number(tencent):
    fake, provider, channel = tencent
    fake.codes[OTHER_PHONE] = ("FailedOperation.PhoneNumberInBlacklist", "手机号在免打扰名单库中")
    results = channel.send_batch([sms(PHONE), sms(OTHER_PHONE), sms("+8613700137000", template="2220")])
    assert len(provider.requests) == 2  # one per template
    assert fake.bodies[0]["PhoneNumberSet"] == [PHONE, OTHER_PHONE]
    assert results[0].ok and results[2].ok
    assert (results[1].ok, results[1].temporary, results[1].provider_code) == (
        False, False, "FailedOperation.PhoneNumberInBlacklist",
    )  # fmt: skip
    assert results[1].reason == "手机号在免打扰名单库中"
    assert results[0].provider_message_id != results[2].provider_message_id


def test_msg3_tencent_sms_frequency_limit_is_temporary(tencent):
    fake, provider, channel = tencent
    fake.codes[PHONE] = ("LimitExceeded.PhoneNumberThirtySecondLimit", "单个手机号30秒内下发短信条数超过设定的上限")
    result = channel.send(sms())
    assert (result.ok, result.temporary, result.provider_code) == (
        False, True, "LimitExceeded.PhoneNumberThirtySecondLimit",
    )  # fmt: skip


def test_msg3_tencent_sms_request_rate_limit_is_temporary_for_every_number(tencent):
    fake, provider, channel = tencent
    fake.error = ("RequestLimitExceeded", "请求的次数超过了频率限制。")
    results = channel.send_batch([sms(PHONE), sms(OTHER_PHONE)])
    assert [(r.ok, r.temporary, r.provider_code) for r in results] == [(False, True, "RequestLimitExceeded")] * 2


def test_msg3_tencent_sms_bad_number_is_permanent(tencent):
    fake, provider, channel = tencent
    result = channel.send(sms("+86123"))
    assert (result.ok, result.temporary, result.provider_code) == (
        False,
        False,
        "InvalidParameterValue.IncorrectPhoneNumber",
    )
    assert result.reason == "手机号格式错误"


def test_msg3_tencent_sms_wrong_secret_key_fails_the_signature_check(tencent):
    fake, provider, channel = tencent
    channel.secret_key = "not-the-key"
    result = channel.send(sms())
    assert (result.ok, result.temporary, result.provider_code) == (False, False, "AuthFailure.SignatureFailure")
    assert "signature" in result.reason
    assert fake.bodies == []


# ---------------------------------------------------------------------------------------------
# Group robots
# ---------------------------------------------------------------------------------------------


class FakeWeCom:
    """qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"""

    def __init__(self, key="693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"):
        self.key = key
        self.reply = {"errcode": 0, "errmsg": "ok"}
        self.bodies: list[dict] = []

    def __call__(self, request: Request):
        if request.path != "/cgi-bin/webhook/send" or request.query_params().get("key") != self.key:
            return 200, {"errcode": 93000, "errmsg": "invalid webhook url, hint: [1755605200056773468916791]"}
        body = request.json()
        kind = body.get("msgtype")
        if kind not in ("text", "markdown") or not body.get(kind, {}).get("content"):
            return 200, {"errcode": 40008, "errmsg": "invalid message type"}
        self.bodies.append(body)
        return 200, self.reply


class FakeDingTalk:
    """oapi.dingtalk.com/robot/send?access_token=…&timestamp=…&sign=… ("加签")."""

    token = "d0a1f2e3"
    secret = "SECkam0123456789abcdef"

    def __init__(self):
        self.reply = {"errcode": 0, "errmsg": "ok"}
        self.bodies: list[dict] = []

    def __call__(self, request: Request):
        query = request.query_params()
        if request.path != "/robot/send" or query.get("access_token") != self.token:
            return 200, {"errcode": 300001, "errmsg": "token is not exist"}
        timestamp = query.get("timestamp", "")
        if not timestamp.isdigit() or abs(time.time() * 1000 - int(timestamp)) > 3600 * 1000:
            return 200, {"errcode": 310000, "errmsg": "timestamp invalid"}
        string_to_sign = f"{timestamp}\n{self.secret}"
        expected = base64.b64encode(
            hmac.new(self.secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).digest()
        ).decode()
        # The sign travels URL-encoded: "+" and "/" of Base64 must arrive as %2B and %2F.
        raw_sign = dict(pair.split("=", 1) for pair in request.query.split("&")).get("sign", "")
        if unquote(raw_sign) != expected or any(ch in raw_sign for ch in "+/="):
            return 200, {"errcode": 310000, "errmsg": "sign not match"}
        body = request.json()
        kind = body.get("msgtype")
        if kind == "text" and body["text"].get("content") or kind == "markdown" and body["markdown"].get("text"):
            self.bodies.append(body)
            return 200, self.reply
        return 200, {"errcode": 40035, "errmsg": "缺少参数 json"}


class FakeFeishu:
    """open.feishu.cn/open-apis/bot/v2/hook/… with "签名校验"."""

    hook = "5e3d587e-d78e-4a07-bd07-265f269f86fd"
    secret = "nIMtb7r3N9pkXyXdtAbx6e"

    def __init__(self):
        self.reply = {"code": 0, "msg": "success", "data": {}}
        self.bodies: list[dict] = []

    def __call__(self, request: Request):
        if request.path != f"/open-apis/bot/v2/hook/{self.hook}":
            return 404, {"code": 19001, "msg": "param invalid: incoming webhook access token invalid", "data": {}}
        body = request.json()
        timestamp = body.get("timestamp")
        if not isinstance(timestamp, str) or not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 3600:
            return 200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
        key = f"{timestamp}\n{self.secret}".encode()
        expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        if body.get("sign") != expected:
            return 200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
        kind = body.get("msg_type")
        if kind == "text" and body.get("content", {}).get("text") or kind == "interactive" and body.get("card"):
            self.bodies.append(body)
            return 200, self.reply
        return 400, {"code": 9499, "msg": "Bad Request", "data": {}}


@pytest.fixture
def wecom(serve):
    fake = FakeWeCom()
    provider = serve(fake)
    channel = WeComRobotChannel(webhook_url=f"{provider.url}/cgi-bin/webhook/send?key={fake.key}", timeout=5)
    return fake, provider, channel


@pytest.fixture
def dingtalk(serve):
    fake = FakeDingTalk()
    provider = serve(fake)
    url = f"{provider.url}/robot/send?access_token={fake.token}"
    return fake, provider, DingTalkRobotChannel(webhook_url=url, secret=fake.secret, timeout=5)


@pytest.fixture
def feishu(serve):
    fake = FakeFeishu()
    provider = serve(fake)
    url = f"{provider.url}/open-apis/bot/v2/hook/{fake.hook}"
    return fake, provider, FeishuRobotChannel(webhook_url=url, secret=fake.secret, timeout=5)


NOTICE = OutgoingMessage(recipient="", subject="客户预警", text="上海华东机电有限公司 30 天未跟进")


def test_msg3_wecom_robot_posts_text_to_the_keyed_webhook_with_a_mention(wecom):
    fake, provider, channel = wecom
    result = channel.send(OutgoingMessage(recipient=PHONE, subject="客户预警", text="上海华东机电有限公司 30 天未跟进"))
    assert result.ok, result
    assert fake.bodies == [{"msgtype": "text", "text": {"content": "客户预警\n上海华东机电有限公司 30 天未跟进",
                                                          "mentioned_mobile_list": ["13800138000"]}}]  # fmt: skip
    assert provider.requests[0].headers["content-type"].startswith("application/json")


def test_msg3_wecom_robot_sends_markdown(wecom):
    fake, provider, channel = wecom
    assert channel.send(OutgoingMessage(recipient="@all", subject="周报", text="> 新增商机 **3** 个", markdown=True)).ok
    assert fake.bodies[0] == {"msgtype": "markdown", "markdown": {"content": "**周报**\n> 新增商机 **3** 个"}}


def test_msg3_wecom_robot_rate_limit_is_temporary_and_a_wrong_key_permanent(wecom):
    fake, provider, channel = wecom
    fake.reply = {"errcode": 45009, "errmsg": "api freq out of limit"}
    throttled = channel.send(NOTICE)
    assert (throttled.ok, throttled.temporary, throttled.provider_code) == (False, True, "45009")
    channel.webhook_url = channel.webhook_url.replace(fake.key, "wrong-key")
    refused = channel.send(NOTICE)
    assert (refused.ok, refused.temporary, refused.provider_code) == (False, False, "93000")
    assert refused.reason.startswith("invalid webhook url")


def test_msg3_dingtalk_robot_signs_the_timestamp_in_the_query(dingtalk):
    fake, provider, channel = dingtalk
    result = channel.send(OutgoingMessage(recipient=PHONE, subject="客户预警", text="30 天未跟进"))
    assert result.ok, result
    query = provider.requests[0].query_params()
    assert set(query) == {"access_token", "timestamp", "sign"}
    assert len(query["timestamp"]) == 13  # milliseconds
    assert fake.bodies == [{"msgtype": "text", "text": {"content": "客户预警\n30 天未跟进\n@13800138000"},
                            "at": {"isAtAll": False, "atMobiles": ["13800138000"]}}]  # fmt: skip


def test_msg3_dingtalk_robot_sends_markdown_to_everyone(dingtalk):
    fake, provider, channel = dingtalk
    assert channel.send(OutgoingMessage(recipient="@all", subject="周报", text="- 新增商机 3 个", markdown=True)).ok
    body = fake.bodies[0]
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "周报"
    assert body["at"] == {"isAtAll": True}


def test_msg3_dingtalk_wrong_secret_is_refused_and_throttling_is_temporary(dingtalk):
    fake, provider, channel = dingtalk
    fake.reply = {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
    throttled = channel.send(NOTICE)
    assert (throttled.ok, throttled.temporary, throttled.provider_code) == (False, True, "130101")
    channel.secret = "SECnot-the-secret"
    refused = channel.send(NOTICE)
    assert (refused.ok, refused.temporary, refused.provider_code, refused.reason) == (
        False, False, "310000", "sign not match",
    )  # fmt: skip


def test_msg3_feishu_bot_signs_in_the_body(feishu):
    fake, provider, channel = feishu
    result = channel.send(OutgoingMessage(recipient="@all", subject="客户预警", text="30 天未跟进"))
    assert result.ok, result
    body = fake.bodies[0]
    assert set(body) == {"timestamp", "sign", "msg_type", "content"}
    assert len(body["timestamp"]) == 10  # seconds
    assert body["content"] == {"text": '客户预警\n30 天未跟进\n<at user_id="all">所有人</at>'}


def test_msg3_feishu_bot_sends_markdown_as_a_card(feishu):
    fake, provider, channel = feishu
    assert channel.send(OutgoingMessage(recipient="", subject="周报", text="**新增商机** 3 个", markdown=True)).ok
    card = fake.bodies[0]["card"]
    assert card["header"]["title"] == {"tag": "plain_text", "content": "周报"}
    assert card["elements"] == [{"tag": "markdown", "content": "**新增商机** 3 个"}]


@pytest.mark.parametrize(
    "reply, temporary",
    [({"code": 11232, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]", "data": {}}, True),
     ({"code": 9499, "msg": "too many request", "data": {}}, True),
     ({"code": 9499, "msg": "Bad Request", "data": {}}, False),
     ({"code": 19024, "msg": "Key Words Not Found"}, False)],
)  # fmt: skip
def test_msg3_feishu_throttling_is_temporary_other_codes_permanent(feishu, reply, temporary):
    fake, provider, channel = feishu
    fake.reply = reply
    result = channel.send(NOTICE)
    assert (result.ok, result.temporary, result.provider_code, result.reason) == (
        False, temporary, str(reply["code"]), reply["msg"],
    )  # fmt: skip


def test_msg3_feishu_wrong_secret_is_refused(feishu):
    fake, provider, channel = feishu
    channel.secret = "not-the-secret"
    result = channel.send(NOTICE)
    assert (result.ok, result.temporary, result.provider_code) == (False, False, "19021")
    assert result.reason.startswith("sign match fail")


# ---------------------------------------------------------------------------------------------
# The network: nothing escapes, timeouts and refusals are temporary
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def silent_port():
    """A port that accepts connections (the kernel's backlog) but never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def closed_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def http_channels(base: str, timeout: float):
    return [
        (AliyunSmsChannel(access_key_id="a", access_key_secret="b", endpoint=base + "/", sign_name="s",
                          timeout=timeout), sms()),
        (TencentSmsChannel(secret_id="a", secret_key="b", sdk_app_id="1", endpoint=base + "/", timeout=timeout),
         sms()),
        (WeComRobotChannel(webhook_url=base + "/cgi-bin/webhook/send?key=k", timeout=timeout), NOTICE),
        (DingTalkRobotChannel(webhook_url=base + "/robot/send?access_token=t", secret="s", timeout=timeout), NOTICE),
        (FeishuRobotChannel(webhook_url=base + "/open-apis/bot/v2/hook/h", secret="s", timeout=timeout), NOTICE),
    ]  # fmt: skip


def test_msg3_a_provider_that_does_not_answer_is_a_temporary_failure(silent_port):
    for channel, message in http_channels(f"http://127.0.0.1:{silent_port}", timeout=0.2):
        result = channel.send(message)
        assert (channel.name, result.status, result.temporary, result.provider_code) == (
            channel.name, SendStatus.FAILED, True, "network_error",
        ), result  # fmt: skip


def test_msg3_a_refused_connection_is_a_temporary_failure(closed_port):
    for channel, message in http_channels(f"http://127.0.0.1:{closed_port}", timeout=2):
        result = channel.send(message)
        assert (channel.name, result.temporary, result.provider_code) == (channel.name, True, "network_error"), result
        batch = channel.send_batch([message, message])
        assert [(r.temporary, r.provider_code) for r in batch] == [(True, "network_error")] * 2


def test_msg3_a_gateway_error_page_is_temporary_and_a_4xx_page_permanent(serve):
    replies = iter([(502, b"<html>502 Bad Gateway</html>"), (403, b"<html>Forbidden</html>")])
    provider = serve(lambda request: next(replies))
    channel = WeComRobotChannel(webhook_url=provider.url + "/cgi-bin/webhook/send?key=k", timeout=5)
    gateway, forbidden = channel.send(NOTICE), channel.send(NOTICE)
    assert (gateway.temporary, gateway.provider_code) == (True, "http_502")
    assert (forbidden.temporary, forbidden.provider_code) == (False, "http_403")
    assert "Forbidden" in forbidden.reason


# ---------------------------------------------------------------------------------------------
# E-mail through a real local SMTP server
# ---------------------------------------------------------------------------------------------


class Mailbox:
    """aiosmtpd handler: keeps what it receives; some addresses answer 4xx or 5xx at RCPT."""

    def __init__(self):
        self.received: list[tuple[str, list[str], bytes]] = []
        self.logins: list[bytes] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("busy@"):
            return "450 4.2.1 Mailbox busy, try again later"
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


class LocalSMTP(Controller):
    """aiosmtpd's Controller on port 0: learn the port before it connects to itself."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def smtp():
    mailbox = Mailbox()

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"kam", b"s3cret")
        mailbox.logins.append(auth_data.login if isinstance(auth_data, LoginPassword) else b"")
        return AuthResult(success=True, auth_data=auth_data) if ok else AuthResult(success=False, handled=False)

    controller = LocalSMTP(mailbox, hostname="127.0.0.1", port=0, authenticator=authenticate, auth_require_tls=False)
    controller.start()
    channel = EmailChannel(host="127.0.0.1", port=controller.port, username="kam", password="s3cret",
                           from_email="大客户部 <kam@example.com>", timeout=5)  # fmt: skip
    yield mailbox, channel
    controller.stop()


def test_msg3_email_delivers_a_chinese_subject_body_and_html_part(smtp):
    mailbox, channel = smtp
    message = OutgoingMessage(
        recipient="lina@example.com",
        subject="拜访提醒：上海华东机电有限公司",
        text="李娜，您好：\n明天 9:30 拜访上海华东机电有限公司。",
        html="<p>李娜，您好：</p><p>明天 <b>9:30</b> 拜访上海华东机电有限公司。</p>",
    )
    result = channel.send(message)
    assert result.ok, result
    assert mailbox.logins == [b"kam"]
    mail_from, rcpt_tos, content = mailbox.received[0]
    assert (mail_from, rcpt_tos) == ("kam@example.com", ["lina@example.com"])
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    # Django folds the encoded subject onto a continuation line; unfolding leaves the blank before it.
    assert parsed["Subject"].strip() == "拜访提醒：上海华东机电有限公司"
    assert parsed["From"].addresses[0].display_name == "大客户部"
    assert parsed["Message-ID"].strip("<>") == result.provider_message_id
    assert (
        parsed.get_body(("plain",)).get_content().replace("\r\n", "\n").strip()
        == "李娜，您好：\n明天 9:30 拜访上海华东机电有限公司。"
    )
    assert "<b>9:30</b>" in parsed.get_body(("html",)).get_content()


def test_msg3_email_4xx_reply_is_temporary_5xx_permanent(smtp):
    mailbox, channel = smtp
    busy = channel.send(OutgoingMessage(recipient="busy@example.com", subject="提醒", text="正文"))
    assert (busy.ok, busy.temporary, busy.provider_code) == (False, True, "450")
    assert "try again later" in busy.reason
    unknown = channel.send(OutgoingMessage(recipient="nobody@example.com", subject="提醒", text="正文"))
    assert (unknown.ok, unknown.temporary, unknown.provider_code) == (False, False, "550")


def test_msg3_email_batch_reports_each_message_over_one_session(smtp):
    mailbox, channel = smtp
    results = channel.send_batch([
        OutgoingMessage(recipient="lina@example.com", subject="提醒", text="一"),
        OutgoingMessage(recipient="busy@example.com", subject="提醒", text="二"),
        OutgoingMessage(recipient="wangwei@example.com", subject="提醒", text="三"),
    ])  # fmt: skip
    assert [(r.ok, r.temporary) for r in results] == [(True, False), (False, True), (True, False)]
    assert [rcpt for _, rcpt, _ in mailbox.received] == [["lina@example.com"], ["wangwei@example.com"]]
    assert mailbox.logins == [b"kam"]


def test_msg3_email_wrong_password_is_permanent(smtp):
    mailbox, channel = smtp
    channel.password = "wrong"
    result = channel.send(OutgoingMessage(recipient="lina@example.com", subject="提醒", text="正文"))
    assert (result.ok, result.temporary, result.provider_code) == (False, False, "535")


def test_msg3_email_server_unreachable_is_temporary(closed_port):
    channel = EmailChannel(host="127.0.0.1", port=closed_port, from_email="kam@example.com", timeout=2)
    result = channel.send(OutgoingMessage(recipient="lina@example.com", subject="提醒", text="正文"))
    assert (result.ok, result.temporary, result.provider_code) == (False, True, "network_error")


# ---------------------------------------------------------------------------------------------
# The demo log channel, configuration and declared limits
# ---------------------------------------------------------------------------------------------


def test_msg3_log_channel_writes_the_message_to_the_log(caplog):
    caplog.set_level(logging.INFO, logger="kam.messaging.log")
    result = LogChannel().send(OutgoingMessage(recipient=PHONE, subject="演示", text="演示短信内容"))
    assert result.ok
    assert result.provider_message_id.startswith("log-")
    assert any(result.provider_message_id in r.getMessage() and PHONE in r.getMessage() for r in caplog.records)
    assert any("演示短信内容" in r.getMessage() for r in caplog.records)


def test_msg3_config_reads_the_environment_and_settings_win(monkeypatch, settings):
    monkeypatch.setenv("KAM_ALIYUN_SMS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("KAM_ALIYUN_SMS_ACCESS_KEY_SECRET", "env-secret")
    monkeypatch.setenv("KAM_ALIYUN_SMS_ENDPOINT", "http://127.0.0.1:9/")
    monkeypatch.setenv("KAM_MESSAGING_TIMEOUT", "3.5")
    channel = config.channel("aliyun_sms")
    assert (channel.access_key_id, channel.endpoint, channel.timeout) == ("from-env", "http://127.0.0.1:9/", 3.5)
    settings.KAM_ALIYUN_SMS_ACCESS_KEY_ID = "from-settings"
    assert config.channel("aliyun_sms").access_key_id == "from-settings"


def test_msg3_config_builds_every_channel(monkeypatch):
    env = {
        "KAM_TENCENT_SMS_SECRET_ID": "AKID", "KAM_TENCENT_SMS_SECRET_KEY": "key", "KAM_TENCENT_SMS_APP_ID": "1400",
        "KAM_SMTP_HOST": "smtp.exmail.qq.com", "KAM_SMTP_SSL": "true", "KAM_SMTP_FROM": "kam@example.com",
        "KAM_WECOM_WEBHOOK_URL": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
        "KAM_DINGTALK_WEBHOOK_URL": "https://oapi.dingtalk.com/robot/send?access_token=t",
        "KAM_DINGTALK_SECRET": "SECx", "KAM_FEISHU_WEBHOOK_URL": "https://open.feishu.cn/open-apis/bot/v2/hook/h",
    }  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    tencent = config.channel("tencent_sms")
    assert (tencent.region, tencent.endpoint) == ("ap-guangzhou", "https://sms.tencentcloudapi.com/")
    mail = config.channel("email")
    assert (mail.port, mail.use_ssl, mail.use_tls) == (465, True, False)
    assert config.channel("dingtalk").secret == "SECx"
    assert config.channel("feishu").secret == ""
    assert {"log", "email", "tencent_sms", "wecom", "dingtalk", "feishu"} <= set(config.configured_channels())


def test_msg3_config_names_what_is_missing(monkeypatch, settings):
    for name in config.VARIABLES:
        monkeypatch.delenv(name, raising=False)
        if hasattr(settings, name):
            delattr(settings, name)
    with pytest.raises(ImproperlyConfigured, match="KAM_ALIYUN_SMS_ACCESS_KEY_ID, KAM_ALIYUN_SMS_ACCESS_KEY_SECRET"):
        config.channel("aliyun_sms")
    with pytest.raises(ImproperlyConfigured, match="Unknown messaging channel 'fax'"):
        config.channel("fax")
    assert config.configured_channels() == ["log"]


def test_msg3_channels_declare_the_documented_rate_limits():
    assert AliyunSmsChannel.rate_limits == (RateLimit(5000, 1),) and AliyunSmsChannel.max_batch == 100
    assert TencentSmsChannel.rate_limits == (RateLimit(3000, 1),) and TencentSmsChannel.max_batch == 200
    assert WeComRobotChannel(webhook_url="http://x").rate_limit == RateLimit(20, 60)
    assert DingTalkRobotChannel(webhook_url="http://x").rate_limit == RateLimit(20, 60)
    assert FeishuRobotChannel(webhook_url="http://x").rate_limit == RateLimit(100, 60)  # tighter than 5/s
    assert LogChannel().rate_limit is None
    mail = EmailChannel(host="h", port=25, from_email="kam@example.com", max_per_minute=30)
    assert mail.rate_limit == RateLimit(30, 60)

"""Internal notifications through group robots: WeCom (企业微信), DingTalk (钉钉) and Feishu/Lark (飞书).

Each robot posts JSON to the webhook URL of one group; the URL (and the signing secret, where the
robot has one) comes from configuration, never from the message. The message's ``recipient`` only
names whom to mention: ``"@all"``, a phone number (WeCom, DingTalk) or a Feishu ``ou_…`` open id.

Documents followed:

* WeCom group robot, "群机器人配置说明" (https://developer.work.weixin.qq.com/document/path/91770):
  POST ``…/cgi-bin/webhook/send?key=KEY`` with ``{"msgtype": "text", "text": {"content": …,
  "mentioned_mobile_list": […]}}`` or ``{"msgtype": "markdown", "markdown": {"content": …}}``;
  reply ``{"errcode": 0, "errmsg": "ok"}``; at most 20 messages a minute per robot, beyond that
  errcode 45009 ("api freq out of limit"). errcode -1 is "system busy".
* DingTalk custom robot, "自定义机器人接入" and its security settings
  (https://open.dingtalk.com/document/robots/custom-robot-access): POST
  ``…/robot/send?access_token=…&timestamp=…&sign=…`` where timestamp is in milliseconds and
  sign = urlEncode(Base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret))); body
  ``{"msgtype": "text", "text": {"content": …}, "at": {"atMobiles": […], "isAtAll": …}}`` or
  ``msgtype`` markdown with ``title`` and ``text``. At most 20 messages a minute per robot
  (over it: errcode 130101 "send too fast" and 10 minutes of throttling); errcode 310000 is a
  failed security check (sign, keyword or IP).
* Feishu custom bot, "自定义机器人使用指南"
  (https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot): POST JSON with
  ``timestamp`` (seconds) and ``sign`` = Base64(HMAC-SHA256(key=timestamp + "\\n" + secret,
  msg="")) in the body, ``msg_type`` text (``content.text``) or interactive (a card with a
  markdown element). Reply ``{"code": 0, …}``; 100 requests a minute and 5 a second per bot;
  11232 (and 9499 "too many request") when throttled, 19021 when the signature or timestamp is
  refused, 9499 "Bad Request" for a body it cannot read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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

MENTION_ALL = "@all"


def mainland_mobile(phone: str) -> str:
    """WeCom and DingTalk mention members by their 11-digit mainland number."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """Base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")); the URL encoding happens in the query."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def feishu_sign(secret: str, timestamp: int) -> str:
    """Base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")) — the secret is in the key."""
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def with_query(url: str, extra: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(extra.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


class WebhookRobot(Channel):
    """A group robot: one webhook URL, optionally a signing secret, JSON in and a code out."""

    def __init__(self, *, webhook_url: str, secret: str = "", timeout: float = DEFAULT_TIMEOUT):
        self.webhook_url = webhook_url
        self.secret = secret
        self.timeout = timeout

    def post(self, url: str, body: Mapping[str, object]) -> HttpReply:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        return http_request("POST", url, body=json_body(body), headers=headers, timeout=self.timeout)

    def _send(self, message: OutgoingMessage) -> SendResult:
        if not (message.text or message.subject):
            return invalid_message(_("The notification has no text."))
        return self.deliver(message)

    def deliver(self, message: OutgoingMessage) -> SendResult:
        raise NotImplementedError


def code_result(
    reply: HttpReply, *, key: str, message_key: str, temporary_codes: frozenset[int], ok_code: int = 0
) -> SendResult:
    """Robots answer ``{key: code, message_key: text}``; ``ok_code`` is success."""
    data = reply.json()
    if not isinstance(data, dict) or not isinstance(data.get(key), int):
        return unexpected_reply(reply)
    code = data[key]
    if code == ok_code and reply.status < 400:
        return SendResult.sent(provider_code=str(code))
    return SendResult.failed(
        provider_code=str(code),
        reason=str(data.get(message_key, "")),
        temporary=code in temporary_codes or reply.status >= 500 or reply.status == 429,
    )


class WeComRobotChannel(WebhookRobot):
    """WeCom (企业微信) group robot."""

    name = "wecom"
    rate_limits = (RateLimit(20, 60),)
    TEMPORARY_CODES = frozenset({45009, -1})

    def deliver(self, message: OutgoingMessage) -> SendResult:
        if message.markdown:
            content = f"**{message.subject}**\n{message.text}" if message.subject else message.text
            body: dict[str, object] = {"msgtype": "markdown", "markdown": {"content": content}}
        else:
            text: dict[str, object] = {"content": "\n".join(p for p in (message.subject, message.text) if p)}
            if message.recipient == MENTION_ALL:
                text["mentioned_mobile_list"] = ["@all"]
            elif message.recipient:
                text["mentioned_mobile_list"] = [mainland_mobile(message.recipient)]
            body = {"msgtype": "text", "text": text}
        reply = self.post(self.webhook_url, body)
        return code_result(reply, key="errcode", message_key="errmsg", temporary_codes=self.TEMPORARY_CODES)


class DingTalkRobotChannel(WebhookRobot):
    """DingTalk (钉钉) custom robot, signed ("加签") when a secret is configured."""

    name = "dingtalk"
    rate_limits = (RateLimit(20, 60),)
    TEMPORARY_CODES = frozenset({130101, -1})

    def signed_url(self, timestamp_ms: int) -> str:
        if not self.secret:  # a robot secured by keyword or IP list instead
            return self.webhook_url
        return with_query(
            self.webhook_url, {"timestamp": str(timestamp_ms), "sign": dingtalk_sign(self.secret, timestamp_ms)}
        )

    def deliver(self, message: OutgoingMessage) -> SendResult:
        at: dict[str, object] = {"isAtAll": message.recipient == MENTION_ALL}
        mention = ""
        if message.recipient and message.recipient != MENTION_ALL:
            mobile = mainland_mobile(message.recipient)
            at["atMobiles"] = [mobile]
            mention = f"@{mobile}"  # DingTalk highlights the mention only when the text carries it
        if message.markdown:
            title = message.subject or message.text.splitlines()[0][:30]
            text = "\n\n".join(
                p for p in (f"#### {message.subject}" if message.subject else "", message.text, mention) if p
            )
            body: dict[str, object] = {"msgtype": "markdown", "markdown": {"title": title, "text": text}, "at": at}
        else:
            text = "\n".join(p for p in (message.subject, message.text, mention) if p)
            body = {"msgtype": "text", "text": {"content": text}, "at": at}
        reply = self.post(self.signed_url(int(time.time() * 1000)), body)
        return code_result(reply, key="errcode", message_key="errmsg", temporary_codes=self.TEMPORARY_CODES)


class FeishuRobotChannel(WebhookRobot):
    """Feishu/Lark (飞书) custom bot, with signature verification ("签名校验") when a secret is set."""

    name = "feishu"
    rate_limits = (RateLimit(5, 1), RateLimit(100, 60))
    TEMPORARY_CODES = frozenset({11232, 9499})

    def deliver(self, message: OutgoingMessage) -> SendResult:
        mention = ""
        if message.recipient == MENTION_ALL:
            mention = '<at user_id="all">所有人</at>'
        elif message.recipient.startswith("ou_"):
            mention = f'<at user_id="{message.recipient}"></at>'
        body: dict[str, object]
        if message.markdown:
            card: dict[str, object] = {
                "elements": [{"tag": "markdown", "content": "\n".join(p for p in (message.text, mention) if p)}]
            }
            if message.subject:
                card["header"] = {"title": {"tag": "plain_text", "content": message.subject}}
            body = {"msg_type": "interactive", "card": card}
        else:
            text = "\n".join(p for p in (message.subject, message.text, mention) if p)
            body = {"msg_type": "text", "content": {"text": text}}
        if self.secret:
            timestamp = int(time.time())
            body = {"timestamp": str(timestamp), "sign": feishu_sign(self.secret, timestamp), **body}
        reply = self.post(self.webhook_url, body)
        data = reply.json()
        if isinstance(data, dict) and "code" not in data and isinstance(data.get("StatusCode"), int):
            data_key, message_key = "StatusCode", "StatusMessage"  # the older reply shape
        else:
            data_key, message_key = "code", "msg"
        result = code_result(reply, key=data_key, message_key=message_key, temporary_codes=self.TEMPORARY_CODES)
        if result.provider_code == "9499" and "bad request" in result.reason.lower():
            # 9499 is both "too many request" (throttled) and "Bad Request" (a body it cannot read).
            return SendResult.failed(provider_code="9499", reason=result.reason, temporary=False)
        return result

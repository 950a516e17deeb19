"""Provider credentials and endpoints for the messaging channels, and the ``channel(name)`` factory.

Every value is read from a Django setting of the variable's own name when settings define it
(``KAM_ALIYUN_SMS_ACCESS_KEY_ID = "…"``), otherwise from the environment variable of that name.
The list of variables is ``VARIABLES`` below and docs/messaging.md.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .channels.aliyun_sms import DEFAULT_ENDPOINT as ALIYUN_ENDPOINT
from .channels.aliyun_sms import AliyunSmsChannel
from .channels.base import DEFAULT_TIMEOUT, Channel, RateLimit
from .channels.email import EmailChannel
from .channels.log import LogChannel
from .channels.robots import DingTalkRobotChannel, FeishuRobotChannel, WeComRobotChannel
from .channels.tencent_sms import DEFAULT_ENDPOINT as TENCENT_ENDPOINT
from .channels.tencent_sms import TencentSmsChannel

# name → (default, what it is)
VARIABLES: dict[str, tuple[str, str]] = {
    "KAM_MESSAGING_TIMEOUT": (str(DEFAULT_TIMEOUT), "seconds to wait for a provider"),
    "KAM_ALIYUN_SMS_ACCESS_KEY_ID": ("", "Alibaba Cloud AccessKey ID"),
    "KAM_ALIYUN_SMS_ACCESS_KEY_SECRET": ("", "Alibaba Cloud AccessKey secret"),
    "KAM_ALIYUN_SMS_ENDPOINT": (ALIYUN_ENDPOINT, "Dysmsapi endpoint"),
    "KAM_ALIYUN_SMS_REGION": ("cn-hangzhou", "RegionId parameter"),
    "KAM_ALIYUN_SMS_SIGN_NAME": ("", "default approved signature (签名)"),
    "KAM_TENCENT_SMS_SECRET_ID": ("", "Tencent Cloud SecretId"),
    "KAM_TENCENT_SMS_SECRET_KEY": ("", "Tencent Cloud SecretKey"),
    "KAM_TENCENT_SMS_APP_ID": ("", "SmsSdkAppId"),
    "KAM_TENCENT_SMS_REGION": ("ap-guangzhou", "X-TC-Region"),
    "KAM_TENCENT_SMS_ENDPOINT": (TENCENT_ENDPOINT, "API 3.0 endpoint"),
    "KAM_TENCENT_SMS_SIGN_NAME": ("", "default approved signature (签名)"),
    "KAM_SMTP_HOST": ("", "SMTP server"),
    "KAM_SMTP_PORT": ("", "SMTP port (default 465 with SSL, 587 with TLS, else 25)"),
    "KAM_SMTP_USER": ("", "SMTP login (none when empty)"),
    "KAM_SMTP_PASSWORD": ("", "SMTP password"),
    "KAM_SMTP_TLS": ("false", "STARTTLS after connecting"),
    "KAM_SMTP_SSL": ("false", "implicit TLS (SMTPS, usually port 465)"),
    "KAM_SMTP_FROM": ("", "From address, e.g. 大客户部 <kam@example.com>"),
    "KAM_SMTP_MAX_PER_MINUTE": ("0", "messages a minute the mail provider allows (0: no limit)"),
    "KAM_WECOM_WEBHOOK_URL": ("", "WeCom robot webhook, …/cgi-bin/webhook/send?key=…"),
    "KAM_DINGTALK_WEBHOOK_URL": ("", "DingTalk robot webhook, …/robot/send?access_token=…"),
    "KAM_DINGTALK_SECRET": ("", "DingTalk signing secret (SEC…), empty for keyword/IP security"),
    "KAM_FEISHU_WEBHOOK_URL": ("", "Feishu bot webhook, …/open-apis/bot/v2/hook/…"),
    "KAM_FEISHU_SECRET": ("", "Feishu signing secret, empty when the bot does not verify signatures"),
}

TRUE = {"1", "true", "yes", "on"}


def value(name: str) -> str:
    """The Django setting ``name`` if settings define it, else the environment variable, else the default."""
    default = VARIABLES.get(name, ("", ""))[0]
    try:
        defined = hasattr(settings, name)
    except ImproperlyConfigured:  # used outside a Django project: the environment alone
        defined = False
    if defined:
        setting = getattr(settings, name)
        return default if setting is None else str(setting).strip()
    return os.environ.get(name, default).strip()


def flag(name: str) -> bool:
    return value(name).lower() in TRUE


def number(name: str, kind: type[int] | type[float] = int) -> int | float:
    raw = value(name)
    try:
        return kind(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}.") from None


def required(*names: str) -> dict[str, str]:
    values = {name: value(name) for name in names}
    if missing := [name for name, found in values.items() if not found]:
        raise ImproperlyConfigured(f"Messaging channel not configured: set {', '.join(missing)}.")
    return values


def timeout() -> float:
    return float(number("KAM_MESSAGING_TIMEOUT", float))


def aliyun_sms() -> AliyunSmsChannel:
    creds = required("KAM_ALIYUN_SMS_ACCESS_KEY_ID", "KAM_ALIYUN_SMS_ACCESS_KEY_SECRET")
    return AliyunSmsChannel(
        access_key_id=creds["KAM_ALIYUN_SMS_ACCESS_KEY_ID"],
        access_key_secret=creds["KAM_ALIYUN_SMS_ACCESS_KEY_SECRET"],
        endpoint=value("KAM_ALIYUN_SMS_ENDPOINT"),
        region_id=value("KAM_ALIYUN_SMS_REGION"),
        sign_name=value("KAM_ALIYUN_SMS_SIGN_NAME"),
        timeout=timeout(),
    )


def tencent_sms() -> TencentSmsChannel:
    creds = required("KAM_TENCENT_SMS_SECRET_ID", "KAM_TENCENT_SMS_SECRET_KEY", "KAM_TENCENT_SMS_APP_ID")
    return TencentSmsChannel(
        secret_id=creds["KAM_TENCENT_SMS_SECRET_ID"],
        secret_key=creds["KAM_TENCENT_SMS_SECRET_KEY"],
        sdk_app_id=creds["KAM_TENCENT_SMS_APP_ID"],
        region=value("KAM_TENCENT_SMS_REGION"),
        endpoint=value("KAM_TENCENT_SMS_ENDPOINT"),
        sign_name=value("KAM_TENCENT_SMS_SIGN_NAME"),
        timeout=timeout(),
    )


def email() -> EmailChannel:
    conf = required("KAM_SMTP_HOST", "KAM_SMTP_FROM")
    use_ssl, use_tls = flag("KAM_SMTP_SSL"), flag("KAM_SMTP_TLS")
    if use_ssl and use_tls:
        raise ImproperlyConfigured("Set KAM_SMTP_SSL or KAM_SMTP_TLS, not both.")
    port = int(number("KAM_SMTP_PORT")) if value("KAM_SMTP_PORT") else 465 if use_ssl else 587 if use_tls else 25
    return EmailChannel(
        host=conf["KAM_SMTP_HOST"],
        port=port,
        username=value("KAM_SMTP_USER"),
        password=value("KAM_SMTP_PASSWORD"),
        use_tls=use_tls,
        use_ssl=use_ssl,
        from_email=conf["KAM_SMTP_FROM"],
        timeout=timeout(),
        max_per_minute=int(number("KAM_SMTP_MAX_PER_MINUTE")),
    )


def wecom() -> WeComRobotChannel:
    url = required("KAM_WECOM_WEBHOOK_URL")["KAM_WECOM_WEBHOOK_URL"]
    return WeComRobotChannel(webhook_url=url, timeout=timeout())


def dingtalk() -> DingTalkRobotChannel:
    url = required("KAM_DINGTALK_WEBHOOK_URL")["KAM_DINGTALK_WEBHOOK_URL"]
    return DingTalkRobotChannel(webhook_url=url, secret=value("KAM_DINGTALK_SECRET"), timeout=timeout())


def feishu() -> FeishuRobotChannel:
    url = required("KAM_FEISHU_WEBHOOK_URL")["KAM_FEISHU_WEBHOOK_URL"]
    return FeishuRobotChannel(webhook_url=url, secret=value("KAM_FEISHU_SECRET"), timeout=timeout())


def log() -> LogChannel:
    return LogChannel()


FACTORIES: dict[str, Callable[[], Channel]] = {
    "log": log,
    "email": email,
    "aliyun_sms": aliyun_sms,
    "tencent_sms": tencent_sms,
    "wecom": wecom,
    "dingtalk": dingtalk,
    "feishu": feishu,
}
CHANNEL_NAMES = tuple(FACTORIES)


def channel(name: str) -> Channel:
    """A channel built from the current configuration; ImproperlyConfigured names what is missing."""
    try:
        factory = FACTORIES[name]
    except KeyError:
        raise ImproperlyConfigured(f"Unknown messaging channel {name!r}; known: {', '.join(CHANNEL_NAMES)}.") from None
    return factory()


def configured_channels() -> list[str]:
    """Names of the channels whose required variables are set (the log channel always is)."""
    names = []
    for name in CHANNEL_NAMES:
        try:
            channel(name)
        except ImproperlyConfigured:
            continue
        names.append(name)
    return names


# --- rate limits shared by all workers (kam.messaging.throttle) ---------------------------------

# SMTP documents no rate; mail providers do limit (Tencent Exmail, Aliyun DirectMail: a few hundred a
# minute), so without KAM_SMTP_MAX_PER_MINUTE the outbox keeps e-mail to this.
EMAIL_DEFAULT_LIMIT = RateLimit(10, 1)
_LIMIT_TEXT = re.compile(r"^\s*(\d+)\s*(?:/\s*(\d+)\s*s?)?\s*$")


def parse_rate_limit(raw) -> RateLimit | None:
    """One channel's entry of KAM["MESSAGING_RATE_LIMITS"]: "20/60" (20 per 60 s), (20, 60), 5000 (a second);
    0, "" or None: no limit."""
    if raw is None or raw == "" or raw == 0:
        return None
    if isinstance(raw, RateLimit):
        messages, seconds = raw.messages, raw.per_seconds
    elif isinstance(raw, int) and not isinstance(raw, bool):
        messages, seconds = raw, 1
    elif isinstance(raw, list | tuple) and len(raw) == 2:
        messages, seconds = raw
    elif isinstance(raw, str) and (match := _LIMIT_TEXT.match(raw)):
        messages, seconds = int(match[1]), int(match[2] or 1)
    else:
        raise ImproperlyConfigured(f"A messaging rate limit is a count per seconds such as 20/60, not {raw!r}.")
    if not (isinstance(messages, int) and isinstance(seconds, int)) or messages < 0 or seconds < 1:
        raise ImproperlyConfigured(f"A messaging rate limit is a count per seconds such as 20/60, not {raw!r}.")
    return RateLimit(messages, seconds) if messages else None


def configured_rate_limits() -> dict[str, RateLimit | None]:
    """KAM["MESSAGING_RATE_LIMITS"]: a dict (channel → limit) or text "aliyun_sms=500/1,dingtalk=20/60"."""
    raw = settings.KAM.get("MESSAGING_RATE_LIMITS") or {}
    if isinstance(raw, str):
        pairs = [item.split("=", 1) for item in raw.split(",") if item.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ImproperlyConfigured(f"KAM_MESSAGING_RATE_LIMITS is channel=count/seconds, …, not {raw!r}.")
        raw = {name.strip(): value.strip() for name, value in pairs}
    return {name: parse_rate_limit(value) for name, value in raw.items()}


def one_window(limits) -> RateLimit | None:
    """The documented limits folded into one fixed window that keeps all of them: the shortest window,
    with the fewest requests any limit allows in it (Feishu's 5 a second and 100 a minute: 1 a second)."""
    if not limits:
        return None
    window = min(limit.per_seconds for limit in limits)
    return RateLimit(max(1, min(math.floor(limit.messages * window / limit.per_seconds) for limit in limits)), window)


def rate_limit(name: str, channel: Channel | None = None) -> RateLimit | None:
    """The rate the outbox keeps on channel `name`, across all workers; None: unlimited.

    KAM["MESSAGING_RATE_LIMITS"][name] when set (0 or "" lifts the limit), else the limits the
    channel's provider documents (``channel.rate_limits``), e-mail EMAIL_DEFAULT_LIMIT."""
    configured = configured_rate_limits()
    if name in configured:
        return configured[name]
    declared = one_window(channel.rate_limits if channel is not None else ())
    if declared is None and name == "email":
        return EMAIL_DEFAULT_LIMIT
    return declared

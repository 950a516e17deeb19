"""The JSON API (/api/v1): one NinjaAPI, authentication, error format, and the token endpoint."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyCookie, HttpBearer

from kam.core.errors import ConflictError, DuplicateError
from kam.core.models import ApiToken

TOKEN_USE_GRANULARITY = timedelta(minutes=1)


class BearerToken(HttpBearer):
    """Authorization: Bearer <token> from POST /api/v1/auth/token."""

    def authenticate(self, request, token):
        digest = ApiToken.hash(token)
        found = ApiToken.objects.select_related("user", "user__department").filter(digest=digest).first()
        if found is None or found.expires_at < timezone.now() or not found.user.is_active:
            return None
        now = timezone.now()
        # Record use at most once a minute: a write on every request would serialize SQLite readers.
        if found.last_used_at is None or now - found.last_used_at > TOKEN_USE_GRANULARITY:
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
        request.user = found.user
        return found.user


class SessionAuth(APIKeyCookie):
    """The browser's session cookie; unsafe methods need the CSRF token (X-CSRFToken)."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self):
        super().__init__(csrf=True)

    def authenticate(self, request, key):
        user = getattr(request, "user", None)
        return user if user is not None and user.is_authenticated and user.is_active else None


api = NinjaAPI(
    title="KAM API",
    version="1",
    description=(
        "The JSON API of KAM, the key account management system. Authenticate with a bearer token "
        "from `POST /api/v1/auth/token`, or with the browser session (send `X-CSRFToken` on writes). "
        "Every record carries a `version`; send it back on update and a stale one gets 409 with the "
        'current record. Errors are JSON: `{"detail": …, "errors": [{"field", "message"}]}`. '
        "Records outside your data scope do not exist for you (404)."
    ),
    auth=[BearerToken(), SessionAuth()],
    urls_namespace="api",
)


# model class → output schema, so a 409 can carry the current record (filled by each app's api.py).
CURRENT_SCHEMAS: dict[type, type[Schema]] = {}


def _field_errors(error: ValidationError) -> list[dict]:
    if hasattr(error, "error_dict"):
        return [{"field": field, "message": " ".join(msgs)} for field, msgs in error.message_dict.items()]
    return [{"field": None, "message": m} for m in error.messages]


@api.exception_handler(DuplicateError)
def on_duplicate(request, exc: DuplicateError):
    return api.create_response(
        request,
        {"detail": exc.messages[0], "errors": [{"field": "name", "message": exc.messages[0]}],
         "duplicates": exc.duplicates, "confirmable": exc.confirmable},
        status=409,
    )  # fmt: skip


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    errors = _field_errors(exc)
    return api.create_response(
        request, {"detail": errors[0]["message"] if errors else _("Invalid input."), "errors": errors}, status=422
    )


_PARAM_SOURCES = ("body", "query", "path", "form", "file", "header", "cookie")


@api.exception_handler(NinjaValidationError)
def on_schema_error(request, exc: NinjaValidationError):
    errors = []
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", [])]
        # ("body", "payload", "name") → "name"; ("file", "file") → "file"; ("query", "page") → "page"
        if loc and loc[0] in _PARAM_SOURCES:
            loc = loc[1:]
        if len(loc) > 1 and loc[0] in ("payload", "data"):
            loc = loc[1:]
        errors.append({"field": ".".join(loc) or None, "message": _translate_pydantic(err)})
    detail = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors)
    return api.create_response(request, {"detail": detail, "errors": errors}, status=422)


def _translate_pydantic(err: dict) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx", {}) or {}
    if kind == "missing":
        return _("This field is required.")
    if kind in ("string_too_long",):
        return _("Ensure this value has at most %(n)s characters.") % {"n": ctx.get("max_length")}
    if kind.startswith("int") or kind.startswith("decimal") or kind.startswith("float"):
        return _("Enter a number.")
    if kind.startswith("date"):
        return _("Enter a valid date (YYYY-MM-DD).")
    if kind.startswith("bool"):
        return _("Enter true or false.")
    if kind in ("literal_error", "enum"):
        return _("Choose one of: %(c)s.") % {"c": ctx.get("expected", "")}
    if kind.startswith("string"):
        return _("Enter text.")
    return err.get("msg", _("Invalid value."))


@api.exception_handler(ConflictError)
def on_conflict(request, exc: ConflictError):
    schema = CURRENT_SCHEMAS.get(type(exc.current))
    if exc.current is None:  # removed since the caller read it
        current = None
    else:
        current = schema.from_orm(exc.current).model_dump(mode="json") if schema else {"id": exc.current.pk}
    return api.create_response(
        request,
        {"detail": _("This record was changed by someone else. Review the current version and try again."),
         "errors": [{"field": "version", "message": _("The version is out of date.")}],
         "current": current},
        status=409,
    )  # fmt: skip


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return api.create_response(request, {"detail": _("Not found."), "errors": []}, status=404)


@api.exception_handler(PermissionDenied)
def on_forbidden(request, exc):
    return api.create_response(request, {"detail": str(exc) or _("You may not do this."), "errors": []}, status=403)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request, exc):
    return api.create_response(request, {"detail": _("Authentication required."), "errors": []}, status=401)


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    return api.create_response(request, {"detail": str(exc), "errors": []}, status=exc.status_code)


class TokenIn(Schema):
    username: str
    password: str


class TokenOut(Schema):
    token: str
    token_type: str = "bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int


def lockout_response(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out login (AXES_LOCKOUT_CALLABLE): the API keeps its JSON 429,
    the login page shows the lockout page."""
    status = getattr(settings, "AXES_HTTP_RESPONSE_CODE", 429)
    if request.path.startswith("/api/"):
        detail = _("Too many failed logins: this account is locked for a while. Try again later.")
        return api.create_response(request, {"detail": detail, "errors": []}, status=status)
    return render(request, settings.AXES_LOCKOUT_TEMPLATE, {}, status=status)


@api.post("/auth/token", auth=None, response={200: TokenOut}, tags=["auth"], operation_id="create_token",
          summary="Exchange username and password for a bearer token")  # fmt: skip
def create_token(request, payload: TokenIn):
    """Repeated failures lock the username for a while (django-axes), as on the login page."""
    user = authenticate(request, username=payload.username, password=payload.password)
    if getattr(request, "axes_locked_out", False):
        raise HttpError(429, _("Too many failed logins: this account is locked for a while. Try again later."))
    if user is None:
        raise HttpError(401, _("Wrong username or password."))
    raw = ApiToken.issue(user)
    return {"token": raw, "expires_in": int(settings.API_TOKEN_TTL.total_seconds())}

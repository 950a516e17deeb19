"""Validators for Chinese business identifiers: unified social credit code, phone numbers."""

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum.cn import uscc
from stdnum.exceptions import InvalidChecksum
from stdnum.exceptions import ValidationError as StdnumError

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def clean_credit_code(value: str, *, checksum_exception: bool = False) -> str:
    """Return the normalized 18-character code.

    A code of the right form whose check character fails is refused unless the user confirmed
    it as an exception: a few early real codes fail GB 32100-2015's checksum (DESIGN.md).
    """
    code = uscc.compact(value or "").upper()
    if not code:
        return ""
    if len(code) != 18 or any(ch not in USCC_ALPHABET for ch in code):
        raise ValidationError(
            _("A unified social credit code has 18 characters from 0-9 and A-Y (no I, O, S, V, Z)."),
            code="credit_code_format",
        )
    try:
        uscc.validate(code)
    except InvalidChecksum:
        if not checksum_exception:
            raise ValidationError(
                _(
                    "The check character of this credit code is wrong. Check the code; if it is "
                    "printed so on the business licence, confirm it as an exception."
                ),
                code="credit_code_checksum",
            ) from None
    except StdnumError:
        raise ValidationError(_("This is not a valid unified social credit code."), code="credit_code_format") from None
    return code


def clean_phone(value: str) -> str:
    """Return the phone number in E.164 (+8613812345678); mainland China is the default region."""
    raw = (value or "").strip()
    if not raw:
        return ""
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        raise ValidationError(_("This is not a phone number."), code="phone") from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_("This is not a valid phone number."), code="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

"""Company and person names: normalization for duplicate checks, pinyin for sorting and search."""

import re
import unicodedata
from functools import lru_cache

from pypinyin import Style
from pypinyin.converter import DefaultConverter
from pypinyin.core import Pinyin

# Legal-form suffixes that do not tell two companies apart (longest first).
COMPANY_SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "集团有限公司",
    "有限公司",
    "股份公司",
    "总公司",
    "公司",
    "coltd",
    "companylimited",
    "limited",
    "ltd",
    "incorporated",
    "inc",
    "corporation",
    "corp",
    "co",
)
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
_CJK_SUFFIXES = tuple(s for s in COMPANY_SUFFIXES if not s.isascii())
# Two-character runs of the legal-form suffixes: in nearly every company name, so they tell nothing apart.
LEGAL_FORM_BIGRAMS = frozenset(s[i : i + 2] for s in _CJK_SUFFIXES for i in range(len(s) - 1))


def legal_form_start(text: str) -> int:
    """Where the trailing Chinese legal-form suffixes of a name begin ("中国银行股份有限公司" → 4)."""
    end = len(text.rstrip())
    changed = True
    while changed:
        changed = False
        for suffix in _CJK_SUFFIXES:
            if text[:end].endswith(suffix) and end > len(suffix):
                end -= len(suffix)
                changed = True
                break
    return end


def normalize_company_name(name: str) -> str:
    """Fold full-width to half-width, drop spaces, punctuation and legal-form suffixes.

    "华为技术（深圳）有限责任公司" and "华为技术(深圳)有限公司 " normalize to the same key.
    """
    text = unicodedata.normalize("NFKC", name or "").lower()
    text = _NOISE.sub("", text)
    changed = True
    while changed and text:
        changed = False
        for suffix in COMPANY_SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                text = text[: -len(suffix)]
                changed = True
                break
    return text


def is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


class _MemoizingConverter(DefaultConverter):
    """pypinyin's converter, remembering how each character's toned reading becomes the asked style.

    pypinyin re-derives "zhōng" → "zhong" with regular expressions for every character of every
    name: a third of the time of converting a name. The pairs are few (characters × readings).
    """

    def __init__(self):
        super().__init__()
        self._styled: dict[tuple, str] = {}

    def convert_style(self, han, orig_pinyin, style, strict, **kwargs):
        key = (han, orig_pinyin, style, strict)
        styled = self._styled.get(key)
        if styled is None:
            styled = self._styled[key] = super().convert_style(han, orig_pinyin, style, strict, **kwargs)
        return styled


_PINYIN = Pinyin(_MemoizingConverter())


@lru_cache(maxsize=100_000)
def pinyin_syllables(text: str) -> tuple[str, ...]:
    """Toneless pinyin per character; non-Chinese runs are kept as they are, lowercased."""
    return tuple(s.lower() for s in _PINYIN.lazy_pinyin(text, style=Style.NORMAL, errors="default") if s.strip())


def sort_key(name: str) -> str:
    """A key that sorts Chinese names in pinyin order (SQLite has no Chinese collation)."""
    # Lower-cased like search's own normalization, so both share one cached pinyin conversion.
    text = unicodedata.normalize("NFKC", name or "").lower().strip()
    return " ".join(pinyin_syllables(text))[:400]

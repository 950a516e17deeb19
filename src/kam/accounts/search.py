"""Search over accounts and contacts (ARC-6): fragments, full pinyin, initials, English words.

Each object's names are broken into search terms kept in one indexed table (SearchTerm):
  - every two-character run of its Chinese names ("中国银行" → 中国, 国银, 银行), so any fragment
    of two or more characters finds it;
  - the full pinyin and the pinyin initials of each name ("zhongguoyinhang", "zgyh"), found by prefix;
  - each English word, found by prefix; and the credit code and phone numbers, found exactly.
A query is matched term by term in the index, then checked against the names, so results are exact
and fast on SQLite and PostgreSQL alike.
"""

import unicodedata
from dataclasses import dataclass

from django.conf import settings

from kam.accounts.models import Account, Contact, SearchTerm
from kam.accounts.names import LEGAL_FORM_BIGRAMS, is_cjk, legal_form_start, pinyin_syllables
from kam.core import scopes

TERM_MAX = 64


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").lower().strip()


def _name_terms(name: str) -> set[str]:
    text = _norm(name)
    terms: set[str] = set()
    # The legal-form suffix (股份有限公司…) is in almost every name: its own bigrams and pinyin are
    # not indexed (queries drop those bigrams too), which halves the terms of a company.
    core = legal_form_start(text)
    # Chinese: every bigram of every run of CJK characters; single-character names as they are.
    for start, run in _cjk_runs(text):
        if len(run) == 1:
            terms.add(run)
        terms.update(run[i : i + 2] for i in range(len(run) - 1) if start + i < core)
    if any(is_cjk(ch) for ch in text):
        syllables = [s for s in pinyin_syllables(text) if s.isalnum()]
        terms.add("".join(syllables)[:TERM_MAX])
        terms.add("".join(s[0] for s in syllables)[:TERM_MAX])
        # Pinyin and initials from every later character of the core, so "yinhang" and "yh" find 中国银行.
        # The suffix is all Chinese, one syllable a character, so the core's are the ones before it.
        suffix_length = len(text.rstrip()) - core
        core_syllables = syllables[: len(syllables) - suffix_length] if suffix_length else syllables
        for start in range(1, len(core_syllables) - 1):
            rest = core_syllables[start:]
            terms.add("".join(rest)[:TERM_MAX])
            terms.add("".join(s[0] for s in rest)[:TERM_MAX])
    # Latin words (English names, letters inside Chinese names) for prefix search.
    word = ""
    for ch in text + " ":
        if ch.isascii() and ch.isalnum():
            word += ch
            continue
        if word:
            terms.add(word[:TERM_MAX])
        word = ""
    return terms


def _cjk_runs(text: str):
    """(start index, run) for each run of consecutive CJK characters."""
    start, run = 0, ""
    for index, ch in enumerate(text + " "):
        if is_cjk(ch):
            if not run:
                start = index
            run += ch
        elif run:
            yield start, run
            run = ""


def account_terms(account: Account) -> set[str]:
    terms: set[str] = set()
    for name in [account.name, account.name_en, *(account.short_names or [])]:
        terms |= _name_terms(name)
    if account.credit_code:
        terms.add(account.credit_code.lower())
    if account.phone:
        terms.add(account.phone.lstrip("+"))
    return terms


def contact_terms(contact: Contact) -> set[str]:
    terms = _name_terms(contact.name) | _name_terms(contact.name_en)
    for phone in (contact.mobile, contact.phone):
        if phone:
            terms.add(phone.lstrip("+"))
    return terms


def reindex(kind: str, object_id: int, terms: set[str]) -> None:
    SearchTerm.objects.filter(kind=kind, object_id=object_id).delete()
    SearchTerm.objects.bulk_create(SearchTerm(kind=kind, object_id=object_id, term=t) for t in terms if t)


def index_account(account: Account) -> None:
    reindex(SearchTerm.ACCOUNT, account.pk, account_terms(account))


def index_contact(contact: Contact) -> None:
    reindex(SearchTerm.CONTACT, contact.pk, contact_terms(contact))


def _matching_ids(kind: str, query: str):
    """A subquery of object ids whose terms match the query, or None if the query is too short."""
    q = _norm(query).replace(" ", "")
    if not q:
        return None
    terms = SearchTerm.objects.filter(kind=kind)
    cjk = [ch for ch in q if is_cjk(ch)]
    if cjk:
        if len(q) == 1:
            return terms.filter(term=q).values("object_id")
        bigrams = {q[i : i + 2] for i in range(len(q) - 1) if is_cjk(q[i]) and is_cjk(q[i + 1])}
        if bigrams and bigrams <= LEGAL_FORM_BIGRAMS:
            # Only legal-form words ("有限公司"): not indexed, and nearly every name matches; scan.
            model = Account if kind == SearchTerm.ACCOUNT else Contact
            return model.objects.filter(name__contains=q).values("pk")
        bigrams -= LEGAL_FORM_BIGRAMS  # not indexed; the names are checked afterwards anyway
        if not bigrams:
            return None
        # All bigrams must be present; the final check against the names happens in search().
        # An INTERSECT of one indexed lookup per bigram, not GROUP BY … HAVING COUNT(DISTINCT term):
        # SQLite (no planner statistics) runs the GROUP BY form by walking every term of the kind in
        # object order (~1 s at a million contacts for any query of three or more characters).
        first, *others = [terms.filter(term=bigram).values("object_id") for bigram in sorted(bigrams)]
        return first.intersection(*others) if others else first
    if len(q) < 2 and not q.isdigit():
        return None

    def prefixed(prefix: str):
        # A prefix match written as a range, so both databases use the (kind, term) index.
        prefix = prefix[:TERM_MAX]
        return terms.filter(term__gte=prefix, term__lt=prefix + "\uffff").values("object_id")

    words = [w for w in _norm(query).split() if w]
    if len(words) < 2:
        return prefixed(q)
    # "bank of china": every word must match, or the words typed together ("zhong guo" → zhongguo).
    every_word = prefixed(words[0])
    for word in words[1:]:
        every_word = every_word.filter(object_id__in=prefixed(word))
    return prefixed(q).union(every_word)


def _names_contain(query: str, *names: str) -> bool:
    q = _norm(query).replace(" ", "")
    return any(q in _norm(n).replace(" ", "") for n in names if n)


@dataclass
class SearchResults:
    accounts: list
    contacts: list


def search_accounts(user, query: str, *, limit: int | None = None):
    """Visible accounts matching the query, best match first, names in pinyin order."""
    limit = limit or settings.KAM["SEARCH_RESULT_LIMIT"]
    ids = _matching_ids(SearchTerm.ACCOUNT, query)
    if ids is None:
        return []
    candidates = scopes.visible_accounts(user).filter(pk__in=ids).select_related("owner").order_by("name_sort", "id")
    cjk = any(is_cjk(ch) for ch in query)
    results = []
    for account in candidates[: limit * 4]:
        if cjk and not _names_contain(query, account.name, *(account.short_names or [])):
            continue
        results.append(account)
        if len(results) == limit:
            break
    q = _norm(query)
    results.sort(key=lambda a: 0 if _norm(a.name) == q or q in map(_norm, a.short_names or []) else 1)
    return results


def search_contacts(user, query: str, *, limit: int | None = None):
    limit = limit or settings.KAM["SEARCH_RESULT_LIMIT"]
    ids = _matching_ids(SearchTerm.CONTACT, query)
    if ids is None:
        return []
    candidates = scopes.visible_contacts(user).filter(pk__in=ids).order_by("name_sort", "id")
    cjk = any(is_cjk(ch) for ch in query)
    results = []
    for contact in candidates[: limit * 4]:
        if cjk and not _names_contain(query, contact.name):
            continue
        results.append(contact)
        if len(results) == limit:
            break
    return results


def search(user, query: str, *, limit: int | None = None) -> SearchResults:
    return SearchResults(
        accounts=search_accounts(user, query, limit=limit), contacts=search_contacts(user, query, limit=limit)
    )


def account_ids_matching(query: str):
    """Ids of accounts whose search terms match (for list filters); empty if the query is too short."""
    ids = _matching_ids(SearchTerm.ACCOUNT, query)
    return ids if ids is not None else SearchTerm.objects.none().values("object_id")


def contact_ids_matching(query: str):
    ids = _matching_ids(SearchTerm.CONTACT, query)
    return ids if ids is not None else SearchTerm.objects.none().values("object_id")

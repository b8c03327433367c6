"""PII redaction for the local stack's Transcribe: what Amazon Transcribe's content redaction does to a transcript,
done offline on the recognised words.

Each entity found becomes one `[PII]` word spanning the words it replaces (their times, the lowest confidence),
with the entity type Transcribe would name; nothing of the original words is kept. Recognisers, run on the words
of one speaker or channel at a time:

- numbers: runs of digits, however spoken ("four one five", "oh", "double five", "415-555", "4111,"), classified
  by length, checksum and the words just before them: `CREDIT_DEBIT_NUMBER` (13-19 digits passing Luhn, or after
  "card"), `SSN` (9 digits after "social security"/"SSN", or spoken 3-2-4), `BANK_ROUTING` (9 digits after
  "routing"), `BANK_ACCOUNT_NUMBER` (4-17 digits after "account"), `PIN` (4-6 after "PIN"), `CREDIT_DEBIT_CVV`
  (3-4 after "CVV"/"security code"), `CREDIT_DEBIT_EXPIRY` (after "expires"/"expiration"), `PHONE` (a number the
  phonenumbers library holds valid, or 7-15 digits after "phone"/"call"/"reach"...);
- `EMAIL`: a written address, or a spoken one ("ann at example dot com");
- `NAME`: the capitalised words of a self-introduction ("my name is", "this is", "I'm", "speaking with"), not
  days, months or titles.

Amazon Transcribe's models also find names and addresses anywhere; these patterns do not, which the README says.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import phonenumbers

from callhook.models.dialog import PII_MARK

if TYPE_CHECKING:  # transcribe.py imports this module
    from callhook_local.transcribe import Word

PII = PII_MARK
ENTITY_TYPES = frozenset({"BANK_ACCOUNT_NUMBER", "BANK_ROUTING", "CREDIT_DEBIT_NUMBER", "CREDIT_DEBIT_CVV",
                          "CREDIT_DEBIT_EXPIRY", "PIN", "EMAIL", "NAME", "PHONE", "SSN"})

_DIGIT_WORDS = {"zero": "0", "oh": "0", "o": "0", "nought": "0", "one": "1", "two": "2", "three": "3", "four": "4",
                "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_REPEAT = {"double": 2, "triple": 3}
_JOINERS = frozenset({"dash", "hyphen", "-"})  # said between groups of digits, part of the number
_CONTEXT_WORDS = 6  # how far before a number its label is looked for ("my card number is ...")
_CONTEXT = [  # (entity type, pattern over the words before the number, digit counts it accepts)
    ("SSN", re.compile(r"\b(social security|ssn|s s n)\b"), range(9, 10)),
    ("BANK_ROUTING", re.compile(r"\brouting\b"), range(9, 10)),
    ("CREDIT_DEBIT_CVV", re.compile(r"\b(cvv|c v v|cvc|security code|verification code)\b"), range(3, 5)),
    ("CREDIT_DEBIT_EXPIRY", re.compile(r"\b(expir\w*|valid until|valid through)\b"), range(3, 7)),
    ("PIN", re.compile(r"\b(pin|p i n)\b"), range(4, 7)),
    ("CREDIT_DEBIT_NUMBER", re.compile(r"\b(card|visa|mastercard|amex)\b"), range(13, 20)),
    ("BANK_ACCOUNT_NUMBER", re.compile(r"\baccount\b"), range(4, 18)),
    ("PHONE", re.compile(r"\b(phone|call|reach|cell|mobile|text|fax)\b"), range(7, 16)),
]
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_TLDS = frozenset({"com", "net", "org", "edu", "gov", "io", "co", "uk", "de", "fr", "info", "biz", "us"})
_INTRODUCTIONS = [("my", "name", "is"), ("my", "name's"), ("this", "is"), ("i'm",), ("i", "am"), ("speaking", "with"),
                  ("it's",), ("name", "is")]
_NOT_NAMES = frozenset({"I", "A", "The", "Yes", "No", "Not", "Just", "Calling", "Here", "Thank", "Hello", "Hi",
                        "Please", "Sorry", "Okay", "OK", "Good", "Great", "Fine", "Sure", "Very", "So", "And", "But",
                        "Your", "My", "Our", "We", "It", "That", "This", "What", "How", "Why", "When", "Where",
                        "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "January",
                        "February", "March", "April", "May", "June", "July", "August", "September", "October",
                        "November", "December", "Mr", "Mrs", "Ms", "Dr"})


@dataclass(frozen=True)
class Entity:
    first: int  # index of the first word replaced
    last: int  # index of the last word replaced (inclusive)
    type: str


def redact(words: list[Word], entity_types: Iterable[str] | None = None) -> list[Word]:
    """The words with each entity of the chosen types (all when None or "ALL") replaced by one `[PII]` word."""
    wanted = set(ENTITY_TYPES if entity_types is None else entity_types)
    if "ALL" in wanted:
        wanted = set(ENTITY_TYPES)
    out: list[Word] = []
    for label in dict.fromkeys(w.label for w in words):  # each speaker on its own: no entity spans two
        own = [w for w in words if w.label == label]
        out.extend(_replace(own, [e for e in entities(own) if e.type in wanted]))
    return sorted(out, key=lambda w: w.start_s)


def entities(words: list[Word]) -> list[Entity]:
    """The entities found, in order, not overlapping (numbers first, then emails, then names)."""
    found = _numbers(words) + _emails(words) + _names(words)
    kept: list[Entity] = []
    taken: set[int] = set()
    for entity in found:
        span = set(range(entity.first, entity.last + 1))
        if not span & taken:
            kept.append(entity)
            taken |= span
    return sorted(kept, key=lambda e: e.first)


def _replace(words: list[Word], found: list[Entity]) -> list[Word]:
    out: list[Word] = []
    starts = {e.first: e for e in found}
    index = 0
    while index < len(words):
        entity = starts.get(index)
        if entity is None:
            out.append(words[index])
            index += 1
            continue
        span = words[entity.first:entity.last + 1]
        out.append(dataclasses.replace(span[0], text=PII, end_s=span[-1].end_s, punctuation=span[-1].punctuation,
                                       confidence=min(w.confidence for w in span), redaction=entity.type))
        index = entity.last + 1
    return out


# ---------------------------------------------------------------------------------------------------- numbers


def digits_of(text: str) -> str | None:
    """The digits a word stands for ("4111", "415-555", "four", "oh"); None when it is no part of a number."""
    lowered = text.lower()
    if lowered in _DIGIT_WORDS:
        return _DIGIT_WORDS[lowered]
    if re.fullmatch(r"[+(-]?\d[\d().\-/]*", text):
        return re.sub(r"\D", "", text)
    return None


def _numbers(words: list[Word]) -> list[Entity]:
    found = []
    index = 0
    while index < len(words):
        digits, end = _digit_run(words, index)
        if not digits:
            index += 1
            continue
        context = " ".join(w.text.lower() for w in words[max(0, index - _CONTEXT_WORDS):index])
        kind = _number_type(digits, context, words[index:end + 1])
        if kind is not None:
            found.append(Entity(index, end, kind))
        index = end + 1
    return found


def _digit_run(words: list[Word], start: int) -> tuple[str, int]:
    """The digits of the number that starts at `start` (joined over words), and the index of its last word."""
    digits, end, repeat = "", start - 1, 1
    index = start
    while index < len(words):
        text = words[index].text
        lowered = text.lower()
        if lowered in _REPEAT and index + 1 < len(words) and digits_of(words[index + 1].text):
            repeat = _REPEAT[lowered]
            index += 1
            continue
        part = digits_of(text)
        if part is None:
            if digits and lowered in _JOINERS and index + 1 < len(words) and digits_of(words[index + 1].text):
                index += 1
                continue
            break
        if lowered in ("o", "oh") and not digits and (
                index + 1 >= len(words) or digits_of(words[index + 1].text) is None):
            break  # "oh" alone is a word, not a zero
        digits += part * repeat
        repeat, end = 1, index
        if set(words[index].punctuation) & set(".?!;"):
            break  # the sentence ends here; commas come between groups of digits
        index += 1
    return digits, end


def luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _number_type(digits: str, context: str, words: list[Word]) -> str | None:
    for kind, pattern, lengths in _CONTEXT:
        if len(digits) in lengths and pattern.search(context):
            return kind
    if 13 <= len(digits) <= 19 and luhn(digits):
        return "CREDIT_DEBIT_NUMBER"
    groups = [len(d) for w in words if (d := digits_of(w.text))]
    if len(digits) == 9 and groups == [3, 2, 4]:
        return "SSN"
    if 7 <= len(digits) <= 15 and _valid_phone(digits):
        return "PHONE"
    return None


def _valid_phone(digits: str) -> bool:
    for candidate, region in ((digits, "US"), ("+" + digits, None)):
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(candidate, region)):
                return True
        except phonenumbers.NumberParseException:
            continue
    return False


# ---------------------------------------------------------------------------------------------------- emails, names


def _emails(words: list[Word]) -> list[Entity]:
    found = [Entity(i, i, "EMAIL") for i, w in enumerate(words) if _EMAIL.fullmatch(w.text)]
    lowered = [w.text.lower() for w in words]
    for at in range(1, len(lowered) - 1):  # spoken: "<name> at <domain> dot <tld>"
        if lowered[at] != "at":
            continue
        end = at + 1
        while end + 2 < len(lowered) and lowered[end + 1] == "dot":
            end += 2
        if end > at + 1 and lowered[end].strip(".") in _TLDS:
            found.append(Entity(at - 1, end, "EMAIL"))
    return found


def _names(words: list[Word]) -> list[Entity]:
    found = []
    lowered = [w.text.lower() for w in words]
    for index in range(len(words)):
        for phrase in _INTRODUCTIONS:
            end = index + len(phrase)
            if tuple(lowered[index:end]) != phrase or words[end - 1].punctuation:
                continue
            last = end
            while last < min(len(words), end + 3) and _name_like(words[last].text):
                last += 1
                if words[last - 1].punctuation:
                    break  # the name ends with the clause
            if last > end:
                found.append(Entity(end, last - 1, "NAME"))
    return found


def _name_like(text: str) -> bool:
    return text[:1].isupper() and text.replace("-", "").replace("'", "").isalpha() and text not in _NOT_NAMES

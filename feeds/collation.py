"""Names in the order a Russian reader expects: Russian alphabetical order, as a dictionary or
ICU's Russian collation gives it, not the code-point order of Python's `sorted` (which puts
«Ё» after «я» and capitals before small letters) nor the order of transliterated slugs (which
puts «Здоровье» before «Жильё»).

Pure Python (ICU bindings need a C library to build): three levels, like the Unicode collation
algorithm's, enough for names:
1. letters: Cyrillic in the Russian alphabet's order with ё as е, then Latin, then other
   scripts; digits before letters, by value; a space separates words (so «Мир» < «Мир труда» <
   «Мирный»); other punctuation (quotes, dashes, dots) is ignored, so «Газета» sorts under Г;
2. е before ё where the names are otherwise equal;
3. small letters before capitals; then the name itself, so the order is total.
"""

from __future__ import annotations

import re
import unicodedata

_ALPHABET = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
_WEIGHT = {c: i for i, c in enumerate(_ALPHABET)}
_WEIGHT["ё"] = _WEIGHT["е"]
_DIGITS = re.compile(r"\d+")

Key = tuple[tuple[tuple[int, int], ...], tuple[int, ...], tuple[int, ...], str]


def russian_key(name: str) -> Key:
    """The sort key of `name`: `sorted(names, key=russian_key)`."""
    text = unicodedata.normalize("NFC", name).strip()
    primary: list[tuple[int, int]] = []
    secondary: list[int] = []
    tertiary: list[int] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isdigit() and char.isascii():
            digits = _DIGITS.match(text, i)
            assert digits is not None
            primary.append((1, int(digits.group())))
            i = digits.end()
            continue
        i += 1
        if char.isspace():
            if primary and primary[-1] != (0, 0):  # runs of spaces count once
                primary.append((0, 0))
            continue
        if not char.isalnum():
            continue  # punctuation is ignored
        small = char.lower()
        if small in _WEIGHT:
            primary.append((2, _WEIGHT[small]))
        elif "a" <= small <= "z":
            primary.append((3, ord(small)))
        else:
            primary.append((4, ord(small)))
        secondary.append(1 if small == "ё" else 0)
        tertiary.append(0 if char == small else 1)
    while primary and primary[-1] == (0, 0):
        primary.pop()
    return tuple(primary), tuple(secondary), tuple(tertiary), name

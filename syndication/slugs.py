"""Transliterated slugs in the site's style (the table in CONTRACT.md)."""

from __future__ import annotations

import re
import unicodedata

_TABLE: dict[str, str] = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
    "я": "ya",
}  # fmt: skip

# ъ and ь vanish rather than becoming a separator: "подъезд" is "podezd", not "pod_ezd".
_TRANSLATE = str.maketrans(_TABLE)
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(name: str) -> str:
    """Lower-case, transliterate Cyrillic, keep ASCII letters and digits, join the rest with `_`.

    Returns an empty string when nothing survives (e.g. a name of punctuation only); callers decide
    what to do with that.
    """
    # NFC first: in NFD, й is и + a combining breve, which would become "i_" instead of "y".
    text = unicodedata.normalize("NFC", name.lower()).translate(_TRANSLATE)
    return _NOT_SLUG.sub("_", text).strip("_")


def with_suffix(base: str, n: int) -> str:
    """The n-th candidate slug for `base`: base, base_2, base_3..."""
    return base if n <= 1 else f"{base}_{n}"

"""Issue 13: tags on the index page in Russian alphabetical order (feeds.collation)."""

from __future__ import annotations

import random

from feeds.collation import russian_key


def test_russian_alphabetical_order() -> None:
    expected = [
        "9 мая", "10 лет", "2024 год",  # digits first, by value
        "Абрамов", "«Газета»",  # punctuation ignored: «Газета» under Г
        "елка", "ёлка", "Ель",  # ё is е (ёлка beside елка, not after я); е before ё on a tie
        "Жильё", "жкх", "ЖКХ",  # small letters before capitals on a tie
        "Здоровье",  # after Жильё, unlike the slugs (zdorove < zhile)
        "Мир", "Мир  труда", "Мирный",  # a space ends a word
        "Эко", "Яблоко",
        "Apple", "Zoo",  # Latin after Cyrillic, as ICU's Russian collation has it
    ]  # fmt: skip
    shuffled = expected[:]
    random.Random(13).shuffle(shuffled)
    assert sorted(shuffled, key=russian_key) == expected


def test_the_order_is_total_and_ignores_nothing_it_should_not() -> None:
    # Names equal but for punctuation still have one order (the name itself breaks the tie).
    names = ["«Спорт»", "Спорт", "Спорт."]
    assert sorted(names, key=russian_key) == sorted(reversed(names), key=russian_key)
    # A decomposed й (и + combining breve) is the composed one.
    assert russian_key("Ма\u0438\u0306")[:3] == russian_key("Ма\u0439")[:3]

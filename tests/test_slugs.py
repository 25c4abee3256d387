"""Slugs follow the transliteration table of CONTRACT.md; collisions get _2, _3…"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import settings as h_settings
from hypothesis import strategies as st

from syndication.model import ArticleIn, Status, TagRef
from syndication.slugs import slugify
from syndication.store import SQLiteStore
from syndication.timeutil import utcnow

CASES = [
    ("Главное", "glavnoe"),
    ("Новости органов власти", "novosti_organov_vlasti"),
    ("Новости территорий", "novosti_territoriy"),
    ("СМИ о Вологодской области", "smi_o_vologodskoy_oblasti"),
    ("Александр Михайлович Мордвинов", "aleksandr_mikhaylovich_mordvinov"),
    ("Пётр Ильич Чайковский", "petr_ilich_chaykovskiy"),
    ("Ёлка", "elka"),
    ("Щёкино", "shchekino"),
    ("Подъезд", "podezd"),
    ("Объявление", "obyavlenie"),
    ("Съезд депутатов", "sezd_deputatov"),
    ("Соловьёв", "solovev"),
    ("Юрьев-Польский", "yurev_polskiy"),
    ("ЖКХ", "zhkkh"),
    ("Цифровизация", "tsifrovizatsiya"),
    ("Хохлома", "khokhloma"),
    ("Эхо Москвы", "ekho_moskvy"),
    ("Ярославль", "yaroslavl"),
    ("Шуя", "shuya"),
    ("Великий Устюг", "velikiy_ustyug"),
    ("9 мая", "9_maya"),
    ("COVID-19", "covid_19"),
    ("Wi-Fi в школах", "wi_fi_v_shkolakh"),
    ("  «Лучший двор» — 2025!  ", "luchshiy_dvor_2025"),
    ("Дети & молодёжь", "deti_molodezh"),
    ("Café", "caf"),
    ("Ъ", ""),
    ("___", ""),
]


@pytest.mark.parametrize(("name", "slug"), CASES)
def test_slug_table(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_every_letter_of_the_alphabet() -> None:
    assert slugify("абвгдеёжзийклмнопрстуфхцчшщъыьэюя") == (
        "abvgdeezhziyklmnoprstufkhtschshshchyeyuya"
    )
    assert slugify("АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ") == slugify(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
    )


@pytest.mark.parametrize(("name", "slug"), CASES)
def test_decomposed_names_get_the_same_slug(name: str, slug: str) -> None:
    """A CMS on macOS may send NFD: Й as И + combining breve, Ё as Е + combining diaeresis."""
    assert slugify(unicodedata.normalize("NFD", name)) == slug


def test_a_decomposed_name_is_not_split_at_its_combining_marks() -> None:
    assert slugify("Йошкар-Ола".replace("Й", "И\u0306")) == "yoshkar_ola"
    assert slugify("Щёкино".replace("ё", "е\u0308")) == "shchekino"


@given(st.text(max_size=40))
@h_settings(max_examples=300, deadline=None)
def test_every_normal_form_of_a_name_has_one_slug(name: str) -> None:
    nfc = slugify(unicodedata.normalize("NFC", name))
    assert slugify(unicodedata.normalize("NFD", name)) == nfc
    assert slugify(name) == nfc


def _article(article_id: str, *tags: str) -> ArticleIn:
    return ArticleIn(
        id=article_id, title="t", url=f"https://example.ru/{article_id}/", summary=None,
        content_html=None, published_at=utcnow(), updated_at=None, author=None, rubrics=(),
        tags=tuple(TagRef(t) for t in tags), image=None, status=Status.PUBLISHED,
    )  # fmt: skip


@pytest.mark.anyio
async def test_collisions_get_numbered_suffixes(store: SQLiteStore) -> None:
    await store.put_articles([_article("a", "Общество")])
    await store.put_articles([_article("b", "общество", "Общество!")])
    await store.put_articles([_article("c", "Общество", "Ъ", "ъ")])
    slugs = {t.name: t.slug for t in await store.tags()}
    assert slugs == {
        "Общество": "obshchestvo",
        "общество": "obshchestvo_2",
        "Общество!": "obshchestvo_3",
        "Ъ": "tag",
        "ъ": "tag_2",
    }
    article = await store.get_article("c")
    assert article is not None
    assert [t.slug for t in article.tags] == ["obshchestvo", "tag", "tag_2"]


@pytest.mark.anyio
async def test_colliding_names_in_one_batch(store: SQLiteStore) -> None:
    await store.put_articles([_article("a", "Дети", "ДЕТИ"), _article("b", "дети")])
    assert sorted(t.slug for t in await store.tags()) == ["deti", "deti_2", "deti_3"]

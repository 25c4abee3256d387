"""A synthetic demo data set of our own making: Russian regional news, deterministic by seed."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

RUBRICS: tuple[tuple[str, str, str], ...] = (
    ("glavnoe", "Главное", "Самые важные новости региона"),
    ("novosti_organov_vlasti", "Новости органов власти", "Решения и события органов власти"),
    ("novosti_territoriy", "Новости территорий", "Что происходит в районах и городах"),
    ("obshchestvo", "Общество", "Жизнь людей и сообществ"),
    ("ekonomika", "Экономика", "Промышленность, сельское хозяйство, бизнес"),
)

_FIRST = ("Александр", "Мария", "Сергей", "Елена", "Дмитрий", "Ольга", "Андрей", "Наталья",
          "Алексей", "Татьяна", "Юрий", "Ирина", "Пётр", "Светлана", "Илья")  # fmt: skip
_PATRONYMIC = ("Михайлович", "Сергеевна", "Петрович", "Андреевна", "Юрьевич", "Ивановна",
               "Николаевич", "Олеговна", "Викторович", "Алексеевна")  # fmt: skip
_LAST = ("Мордвинов", "Кузнецова", "Соловьёв", "Белова", "Щукин", "Жукова", "Королёв", "Ильина",
         "Медведев", "Зайцева", "Подъячев", "Яковлева", "Чернышёв", "Ершова", "Шубин")  # fmt: skip
_TOPICS = ("Общество", "Образование", "Здравоохранение", "Культура", "Спорт", "Дороги",
           "ЖКХ", "Экология", "Сельское хозяйство", "Промышленность", "Туризм", "Молодёжь",
           "Безопасность", "Транспорт", "Строительство", "Наука", "Цифровизация", "Семья",
           "Волонтёрство", "Лесное хозяйство", "Энергетика", "Связь", "Благоустройство",
           "Национальные проекты", "Соцподдержка", "Занятость", "Ветераны", "Память",
           "Финансы", "Инвестиции", "Малый бизнес", "Экспорт", "Архитектура", "Музеи",
           "Театры", "Библиотеки", "Дети", "Пенсионеры", "Выборы", "Погода", "Паводок",
           "Пожарная безопасность", "Отопительный сезон", "Газификация", "Водоснабжение",
           "СМИ о Вологодской области", "Льняная промышленность", "Кружевоплетение",
           "Ремёсла", "Фестивали")  # fmt: skip
_ORGS = ("Правительство области", "Законодательное собрание", "Департамент здравоохранения",
         "Департамент образования", "Департамент культуры и туризма", "Департамент финансов",
         "Департамент строительства", "Департамент дорожного хозяйства",
         "Комитет гражданской защиты", "Избирательная комиссия", "Управление ЗАГС",
         "Департамент сельского хозяйства", "Департамент экономического развития",
         "Комитет по молодёжной политике", "Агентство по обеспечению деятельности мировых судей",
         "Госжилинспекция", "Департамент лесного комплекса", "Департамент природных ресурсов",
         "Территориальный фонд ОМС", "Центр занятости населения", "Управление ветеринарии",
         "Департамент имущественных отношений", "Комитет информационных технологий",
         "Департамент социальной защиты", "Уполномоченный по правам человека")  # fmt: skip
_PLACES = ("Вологда", "Череповец", "Сокол", "Великий Устюг", "Тотьма", "Кириллов", "Белозерск",
           "Грязовец", "Бабаево", "Никольск", "Харовск", "Вытегра", "Устюжна", "Кадников",
           "Красавино")  # fmt: skip
_ACTIONS = ("обсудили развитие", "подвели итоги работы", "представили планы", "открыли",
            "завершили ремонт", "начали строительство", "провели совещание по вопросам",
            "приняли решение о поддержке", "наградили лучших", "запустили программу")  # fmt: skip
_OBJECTS = ("школы", "больницы", "дорог", "дома культуры", "спортивного комплекса",
            "водопровода", "парка", "детского сада", "библиотеки", "моста", "агропредприятий",
            "малого бизнеса", "молодёжных инициатив", "туристических маршрутов")  # fmt: skip
_WORDS = ("регион", "программа", "жители", "проект", "развитие", "поддержка", "работа",
          "муниципалитет", "строительство", "инициатива", "население", "бюджет", "совещание",
          "решение", "итоги", "задачи", "планы", "ремонт", "объект", "специалисты",
          "предприятие", "мероприятие", "участники", "граждане", "служба", "услуги",
          "качество", "сроки", "финансирование", "контроль")  # fmt: skip


def person_names(count: int = 50) -> list[str]:
    names = []
    for i in range(count):
        first, patronymic, last = (
            _FIRST[i % len(_FIRST)],
            _PATRONYMIC[(i * 7) % len(_PATRONYMIC)],
            _LAST[(i * 3) % len(_LAST)],
        )
        # Feminine patronymics take the feminine surname form where one exists.
        if patronymic.endswith("вна") and not last.endswith("а"):
            last = last + "а"
        names.append(f"{first} {patronymic} {last}")
    return list(dict.fromkeys(names))


def tag_pool() -> list[dict[str, str]]:
    """About 150 tags of all three kinds."""
    pool = [{"name": t, "kind": "topic"} for t in _TOPICS]
    pool += [{"name": p, "kind": "topic"} for p in _PLACES]
    pool += [{"name": o, "kind": "org"} for o in _ORGS]
    pool += [{"name": n, "kind": "person"} for n in person_names(60)]
    return pool


def _sentence(rng: random.Random, words: int) -> str:
    chosen = [rng.choice(_WORDS) for _ in range(words)]
    return " ".join(chosen).capitalize() + "."


def body_html(
    rng: random.Random, target_bytes: int, article_no: int, site: str = "https://example.ru"
) -> str:
    """Paragraphs with a list, a quote, a relative and an absolute link, about `target_bytes` long;
    every fifth article also shows two photos in its text (listed in the image sitemap)."""
    parts = [
        f'<p>{_sentence(rng, 12)} Подробнее — на <a href="/novosti/{article_no}/">странице'
        " новости</a>.</p>",
        "<ul>" + "".join(f"<li>{_sentence(rng, 5)}</li>" for _ in range(3)) + "</ul>",
        f"<blockquote>«{_sentence(rng, 10)}»</blockquote>",
        f'<p>{_sentence(rng, 15)} Документы опубликованы на <a href="https://example.ru/docs/'
        f'{article_no}">портале</a>.</p>',
    ]
    if article_no % 5 == 0:
        # No draw from `rng`: the rest of the data set stays what it was.
        parts += [
            f'<figure><img src="{site}/upload/images/{article_no}-{n}.jpg" alt="Фото {n}">'
            f"<figcaption>Фото {n}</figcaption></figure>"
            for n in (1, 2)
        ]
    html = "".join(parts)
    while len(html.encode()) < target_bytes:
        html += f"<p>{_sentence(rng, 14)} {_sentence(rng, 10)}</p>"
    return html


def articles(
    count: int,
    *,
    seed: int = 2025,
    end: datetime | None = None,
    years: float = 3.0,
    body_bytes: int = 1500,
    tags_per_article: tuple[int, int] = (1, 5),
    site: str = "https://example.ru",
    zone: ZoneInfo | None = None,
) -> Iterator[dict[str, Any]]:
    """`count` article payloads (bulk form, with id), oldest first, spread evenly over `years`."""
    rng = random.Random(seed)
    zone = zone or ZoneInfo("Europe/Moscow")
    end = (end or datetime(2025, 12, 10, 18, 0, tzinfo=zone)).astimezone(zone)
    span = timedelta(days=365 * years)
    pool = tag_pool()
    step = span / max(count, 1)
    for i in range(count):
        published = (end - span + step * i + timedelta(minutes=rng.randint(0, 59))).replace(
            second=0, microsecond=0
        )
        place = rng.choice(_PLACES)
        title = f"{place}: {rng.choice(_ACTIONS)} {rng.choice(_OBJECTS)}"
        primary = rng.choice(RUBRICS[1:])[0]
        rubrics = [primary] + (["glavnoe"] if rng.random() < 0.2 else [])
        n_tags = rng.randint(*tags_per_article)
        tags: list[Any] = []
        for tag in rng.sample(pool, n_tags):
            tags.append(tag["name"] if tag["kind"] == "topic" else dict(tag))
        article: dict[str, Any] = {
            "id": f"demo-{i + 1:06d}",
            "title": title,
            "url": f"{site}/novosti/{primary}/{i + 1}/",
            "content_html": body_html(rng, body_bytes, i + 1, site),
            "published_at": published.replace(tzinfo=None).isoformat(),
            "author": rng.choice(("Пресс-служба", "Информационное агентство", None)),
            "rubrics": rubrics,
            "tags": tags,
            "status": "published" if rng.random() > 0.02 else "draft",
        }
        if rng.random() < 0.5:
            article["summary"] = _sentence(rng, 18)
        if rng.random() < 0.3:
            article["updated_at"] = (published + timedelta(hours=rng.randint(1, 48))).isoformat()
        if rng.random() < 0.4:
            article["image"] = {
                "url": f"{site}/upload/images/{i + 1}.jpg",
                "type": "image/jpeg",
                "length": rng.randint(40_000, 400_000),
                "caption": f"{place}. Фото пресс-службы",
            }
        yield {k: v for k, v in article.items() if v is not None}

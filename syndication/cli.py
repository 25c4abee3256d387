"""`syndication serve | import | demo | outbox`: the command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from tqdm import tqdm

from syndication.config import ConfigError, Settings
from syndication.demo import RUBRICS
from syndication.demo import articles as demo_articles
from syndication.ingest import FieldError, validate_article
from syndication.logs import configure as configure_logging
from syndication.mirror import Mirror
from syndication.model import ALL_NEWS, ArticleIn, Rubric
from syndication.notify import report
from syndication.notify.outbox import Outbox
from syndication.notify.targets import configured_targets
from syndication.parallel import ParallelValidator, Spool, unpack, validate_lines
from syndication.store import Store, make_store
from syndication.timeutil import FAR_FUTURE, utcnow

log = logging.getLogger("syndication.cli")

IMPORT_BATCH = 1000
# Below this, starting worker processes costs more than it saves.
PARALLEL_FROM_BYTES = 4 * 1024 * 1024


@dataclass
class ImportSummary:
    created: int = 0
    replaced: int = 0
    rejected: list[tuple[int, list[FieldError]]] = field(default_factory=list)

    def report(self) -> str:
        lines = [f"created {self.created}, replaced {self.replaced}, rejected {len(self.rejected)}"]
        for number, errors in self.rejected[:100]:
            detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
            lines.append(f"  line {number}: {detail}")
        if len(self.rejected) > 100:
            lines.append(f"  … and {len(self.rejected) - 100} more rejected lines")
        return "\n".join(lines)


def _read_batches(stream: BinaryIO, size: int) -> Iterator[tuple[list[tuple[int, bytes]], int]]:
    """(numbered non-blank lines, bytes read) in batches of `size` lines."""
    batch: list[tuple[int, bytes]] = []
    read = 0
    for number, line in enumerate(stream, start=1):
        read += len(line)
        if line.strip():
            batch.append((number, line))
            if len(batch) >= size:
                yield batch, read
                batch, read = [], 0
    if batch or read:
        yield batch, read


async def import_ndjson(
    store: Store,
    stream: BinaryIO,
    settings: Settings,
    *,
    total_bytes: int | None = None,
    atomic: bool = False,
    batch: int = IMPORT_BATCH,
    quiet: bool = False,
    processes: int | None = None,
) -> ImportSummary:
    """Valid lines are stored in transactions of `batch`; with `atomic`, all or nothing.

    Large inputs are validated in worker processes a few batches ahead of the store, which
    writes them in order (see syndication/parallel.py); small ones in this process.
    """
    summary = ImportSummary()
    parallel = total_bytes is None or total_bytes > PARALLEL_FROM_BYTES
    validator = ParallelValidator(settings, processes) if parallel else None
    window = 2 * validator.workers if validator else 1
    pending: deque[tuple[asyncio.Future[Any], int]] = deque()
    # With `atomic`, valid articles wait until every line is checked: on disk when the input is
    # large (memory stays flat), in a list when it is small.
    kept: list[ArticleIn] = []
    spool = Spool()

    async def store_next(progress: tqdm[Any]) -> None:
        future, read = pending.popleft()
        result = await future
        progress.update(read)
        if validator is not None:
            packed, count, rejected = result
            summary.rejected.extend(rejected)
            if atomic:
                if not summary.rejected:  # keep nothing once a line is bad
                    spool.add(packed, count)
                return
            articles = unpack(packed)
        else:
            articles, rejected = result
            summary.rejected.extend(rejected)
            if atomic:
                if not summary.rejected:
                    kept.extend(articles)
                return
        if articles:
            written = await store.put_articles(articles)
            summary.created += written.created
            summary.replaced += written.replaced

    try:
        with tqdm(
            total=total_bytes, unit="B", unit_scale=True, desc="import", disable=quiet,
            file=sys.stderr,
        ) as progress:  # fmt: skip
            try:
                for lines, read in _read_batches(stream, batch):
                    future: asyncio.Future[Any] = (
                        asyncio.wrap_future(validator.submit(lines))
                        if validator is not None
                        else asyncio.ensure_future(
                            asyncio.to_thread(validate_lines, lines, settings)
                        )
                    )
                    pending.append((future, read))
                    if len(pending) >= window:
                        await store_next(progress)
                while pending:
                    await store_next(progress)
            finally:
                for future, _ in pending:
                    future.cancel()
                if validator is not None:
                    validator.close()
        if atomic and not summary.rejected and (kept or spool.count):
            written = await store.put_articles(kept or spool)
            summary.created, summary.replaced = written.created, written.replaced
    finally:
        spool.close()
    return summary


async def load_demo(
    store: Store, settings: Settings, *, count: int, if_empty: bool, quiet: bool = False
) -> int:
    """Write the demo rubrics and articles; 0 when skipped because the store has articles."""
    if if_empty and await store.count(ALL_NEWS, now=FAR_FUTURE):
        return 0
    for position, (slug, title, description) in enumerate(RUBRICS):
        await store.put_rubric(
            Rubric(slug=slug, title=title, description=description, position=position)
        )
    site = settings.site
    payloads = demo_articles(count, end=utcnow(), site=site, zone=settings.zone)
    batch: list[ArticleIn] = []
    with tqdm(total=count, unit="art", desc="demo", disable=quiet, file=sys.stderr) as progress:
        for payload in payloads:
            batch.append(validate_article(payload, settings))
            if len(batch) >= IMPORT_BATCH:
                await store.put_articles(batch)
                progress.update(len(batch))
                batch = []
        if batch:
            await store.put_articles(batch)
            progress.update(len(batch))
    return count


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from hypercorn.run import run

    from syndication.supervisor import WorkerSpec, hypercorn_config, serve_supervised
    from syndication.watchdog import dump_stacks_on_sigusr1

    spec = WorkerSpec(
        access_log=args.access_log, uvloop=args.uvloop, keep_alive_timeout=settings.idle_timeout
    )
    print(
        f"serving on http://{args.host}:{args.port} with {args.workers} worker(s)", file=sys.stderr
    )
    if args.workers > 1:
        # Our supervisor, not hypercorn's: its workers are daemonic (so they cannot start the bulk
        # validators) and it stops every worker when one dies.
        return serve_supervised(spec, args.host, args.port, args.workers)
    # One worker: one process, no supervisor, signals go straight to it.
    dump_stacks_on_sigusr1()
    config = hypercorn_config(spec, f"{args.host}:{args.port}")
    config.workers = 0
    return run(config)


async def _with_store(settings: Settings, job: str, args: argparse.Namespace) -> int:
    store = make_store(settings)
    await store.open()
    try:
        return await _job(store, settings, job, args)
    finally:
        try:
            if settings.mirror and job in ("import", "demo"):
                # What this command wrote (all of it, or what it wrote before it failed) must
                # not be served from stale files once it exits.
                await _sync_mirror(Path(settings.mirror), settings, store)
        finally:
            await store.close()


async def _sync_mirror(root: Path, settings: Settings, store: Store) -> None:
    mirror = Mirror(root, settings)
    await mirror.open()
    try:
        await mirror.sync(store)
    finally:
        await mirror.close()


async def _job(store: Store, settings: Settings, job: str, args: argparse.Namespace) -> int:
    if job == "outbox":
        print(report.render(await report.pending(settings, store)))
        return 0
    if job == "import":
        # The next server delivers what this import writes: make sure each configured push
        # target's cursor exists before the first line is stored (a new cursor starts at the
        # end of the change log).
        for target in configured_targets(settings):
            await Outbox(store, target).cursor()
        if args.file == "-":
            summary = await import_ndjson(
                store,
                sys.stdin.buffer,
                settings,
                atomic=args.atomic,
                quiet=args.quiet,
                processes=args.processes,
            )
        else:
            path = Path(args.file)
            with path.open("rb") as handle:
                summary = await import_ndjson(
                    store,
                    handle,
                    settings,
                    total_bytes=path.stat().st_size,
                    atomic=args.atomic,
                    processes=args.processes,
                    quiet=args.quiet,
                )
        print(summary.report())
        if args.atomic and summary.rejected:
            print("nothing stored (--atomic)")
        return 1 if summary.rejected else 0
    if job == "demo":
        written = await load_demo(
            store, settings, count=args.articles, if_empty=args.if_empty, quiet=args.quiet
        )
        print(
            f"demo: wrote {written} articles to {settings.db}"
            if written
            else f"demo: {settings.db} already has articles; left as is"
        )
        return 0
    raise AssertionError(job)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="syndication", description=__doc__)
    parser.add_argument("--db", help="SQLite file or postgresql:// URL (overrides SYNDICATION_DB)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the app with hypercorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes, kept running by a supervisor"
    )
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.add_argument("--uvloop", action="store_true", help="use hypercorn's uvloop worker")
    serve.add_argument(
        "--mirror", metavar="DIR",
        help="write rendered documents as files into DIR for nginx (overrides SYNDICATION_MIRROR)",
    )  # fmt: skip

    imp = sub.add_parser("import", help="import NDJSON articles from FILE or - (stdin)")
    imp.add_argument("file")
    imp.add_argument("--atomic", action="store_true", help="store nothing if any line is rejected")
    imp.add_argument(
        "--processes", type=int, default=None, metavar="N",
        help="validation worker processes for large inputs (default: CPU count - 1)",
    )  # fmt: skip

    demo = sub.add_parser("demo", help="write the synthetic demo data set")
    demo.add_argument("--articles", type=int, default=600)
    demo.add_argument("--if-empty", action="store_true", help="only when the store has no articles")

    sub.add_parser("outbox", help="push notifications still to deliver, per target")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    if args.db:
        # Through the environment so that hypercorn's worker processes see it too.
        os.environ["SYNDICATION_DB"] = args.db
    if getattr(args, "mirror", None):
        os.environ["SYNDICATION_MIRROR"] = args.mirror
    try:
        settings = Settings.load()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(args, settings)
    try:
        return asyncio.run(_with_store(settings, args.command, args))
    except KeyboardInterrupt:
        return 130
    except (OSError, orjson.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

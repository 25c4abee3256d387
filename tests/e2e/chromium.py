"""A small Chrome DevTools Protocol client for the browser tests: Debian's `chromium`, headless,
driven over `--remote-debugging-pipe` (messages are JSON texts ended by a NUL byte, commands on
the browser's fd 3 and answers on its fd 4). No websocket, Node or Playwright: the protocol's
few calls a test needs are a dozen lines.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

# Only a hung browser misses this (a page of ours loads in well under a second).
DEADLINE_S = 120.0


class BrowserError(RuntimeError):
    pass


class Chromium:
    """One headless browser process; `close()` stops it (the tests call it in `finally`)."""

    def __init__(self, binary: str, profile: Path, log: Path) -> None:
        commands_r, self._commands = os.pipe()  # we write, the browser reads (its fd 3)
        self._answers, answers_w = os.pipe()  # the browser writes (its fd 4), we read

        def wire() -> None:  # in the child, before exec: the pipes at the fds the flag names
            a, b = os.dup(commands_r), os.dup(answers_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [
                binary,
                "--headless",
                # Root in a container has no user namespaces for the sandbox; these pages are
                # the test's own, served by the test's own server.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-extensions",
                "--no-first-run",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            preexec_fn=wire,
            close_fds=False,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        os.close(commands_r)
        os.close(answers_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(BrowserError, OSError):  # gone already: nothing to ask
                self.call("Browser.close")
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        os.close(self._commands)
        os.close(self._answers)
        self._log.close()

    def _read(self) -> dict[str, Any]:
        deadline = time.monotonic() + DEADLINE_S
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._answers], [], [], max(left, 0))
            if not ready:
                raise BrowserError("the browser did not answer")
            chunk = os.read(self._answers, 1 << 16)
            if not chunk:
                raise BrowserError("the browser closed its pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> Any:
        self._next_id += 1
        ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") != ident:
                self.events.append(answer)
                continue
            if "error" in answer:
                raise BrowserError(f"{method}: {answer['error']}")
            return answer.get("result", {})

    def wait_for(self, method: str, session: str) -> dict[str, Any]:
        """The first event `method` of `session` not seen yet (removed from `events`)."""
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self.events.pop(i)
            self.events.append(self._read())

    def open(self, url: str, *, width: int = 1280, height: int = 900, mobile: bool = False) -> Tab:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        tab = Tab(self, session, url)
        tab.call("Page.enable")
        tab.call("Log.enable")
        tab.call("Runtime.enable")
        tab.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )
        tab.call("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired", session)
        return tab


class Tab:
    def __init__(self, browser: Chromium, session: str, url: str) -> None:
        self.browser = browser
        self.session = session
        parts = url.split("/", 3)
        self.origin = "/".join(parts[:3])  # scheme://host:port of the page opened

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return self.browser.call(method, params, self.session)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def type_text(self, text: str) -> None:
        """Text typed into the focused field, as a keyboard would (input events fire)."""
        self.call("Input.insertText", {"text": text})

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        path.write_bytes(base64.b64decode(data["data"]))

    def console_problems(self, origin: str) -> list[str]:
        """Errors the page logged so far: CSP refusals, script errors, failed loads from
        `origin` (the articles' images, on hosts a test machine cannot reach, do not count)."""
        problems = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session:
                continue
            if event.get("method") == "Log.entryAdded":
                entry = event["params"]["entry"]
                url = entry.get("url") or ""
                # The browser asks for /favicon.ico on its own; the service has none (yet).
                ours = url.startswith(origin) and not url.endswith("/favicon.ico")
                if entry.get("level") == "error" and (entry.get("source") != "network" or ours):
                    problems.append(f"{entry.get('text', '')} {url}")
            elif event.get("method") == "Runtime.exceptionThrown":
                problems.append(str(event["params"]["exceptionDetails"]))
        return problems

    def close(self) -> None:
        self.browser.call("Target.closeTarget", {"targetId": self._target_id()})

    def _target_id(self) -> str:
        info = self.call("Target.getTargetInfo")
        return str(info["targetInfo"]["targetId"])

"""A fake Telegram Bot API on loopback, speaking the real wire format to the real python-telegram-bot.

Methods: getMe, sendMessage, editMessageText, answerCallbackQuery, getUpdates (offset, timeout,
409 to the earlier of two concurrent callers, 409 while a webhook is set), setWebhook,
deleteWebhook. Requests arrive as python-telegram-bot sends them (form fields, JSON-encoded
values) or as JSON; answers are `{"ok": true, "result": ...}` or
`{"ok": false, "error_code": N, "description": ..., "parameters": {...}}`.

Faults: `fault(method, kind, ...)` queues one-shot faults (429 with retry_after, 500, 502,
bad_request, forbidden, migrate, slow, hold, drop_before, drop_after); `outage(seconds, mode)`
answers every call with 502 or drops every connection for a while; `refuse()` / `listen()` stop
and restart the listening socket (connection refused). Tests enqueue updates with
`press(...)` (a callback query) and `say(...)` (a message such as /status or /ack 3).

Every text sent or edited through any instance is appended to `TEXTS`, which the session-wide
redaction check (`page_redaction`) scans.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz"
BOT_USER = {"id": 900001, "is_bot": True, "first_name": "leakwatch", "username": "leakwatch_test_bot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}

TEXTS: list[str] = []  # every text sent or edited in this test session, through any fake
ROSTER_VALUES: set[str] = set()  # plaintext of synthetic staff used by the tests: must never be in TEXTS


@dataclass
class Fault:
    method: str | None  # None: any method
    kind: str
    retry_after: int = 1
    seconds: float = 0.0
    description: str = ""
    chat: int | None = None  # only for this chat
    times: int = 1


@dataclass
class Call:
    method: str
    params: dict
    at: float = field(default_factory=time.monotonic)


class FakeTelegram:
    def __init__(self, token: str = TOKEN):
        self.token = token
        self.calls: list[Call] = []
        self.messages: list[dict] = []  # sendMessage received (recorded when received, before answering)
        self.edits: list[dict] = []
        self.answers: list[dict] = []  # answerCallbackQuery
        self.current: dict[tuple[int, int], dict] = {}  # (chat, message_id) -> latest text and markup
        self.updates: list[dict] = []
        self.faults: deque[Fault] = deque()
        self.outage_until = 0.0
        self.outage_mode = "502"
        self.dead_chats: dict[int, tuple[int, str]] = {}
        self.webhook: dict | None = None
        self.webhook_results: list[int] = []
        self.conflicts = 0
        self.released = asyncio.Event()  # `hold` faults wait for it
        self.changed = asyncio.Event()
        self._next_message = 1
        self._next_update = 1
        self._poller: asyncio.Future | None = None
        self._new_update = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.port = 0
        self._tasks: set[asyncio.Task] = set()

    # ------------------------------------------------------------------ control

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fault(self, method: str | None, kind: str, **kw) -> None:
        self.faults.append(Fault(method, kind, **kw))

    def outage(self, seconds: float, mode: str = "502") -> None:
        """Every call fails for `seconds`: mode 502 (Bad Gateway) or drop (connection closed)."""
        self.outage_mode = mode
        self.outage_until = time.monotonic() + seconds

    async def refuse(self) -> None:
        """Stop listening and close open connections: calls get 'connection refused' until `listen()`."""
        if self._site is not None:
            await self._site.stop()
            self._site = None
        for handler in self._runner.server.connections:
            handler.force_close()

    async def listen(self) -> None:
        if self._site is None:
            self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
            await self._site.start()
            self.port = self._site._server.sockets[0].getsockname()[1]

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def texts(self) -> list[str]:
        return [m["text"] for m in self.messages]

    async def wait_for(self, predicate, timeout: float = 10.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), min(left, 0.2))
            except TimeoutError:
                pass

    def _touch(self) -> None:
        self.changed.set()

    # ------------------------------------------------------------------ updates

    def _user(self, user_id: int, username: str | None, first_name: str) -> dict:
        u = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            u["username"] = username
        return u

    def press(self, user_id: int, data: str, *, message: dict | None = None, username: str | None = None,
              first_name: str = "Responder") -> int:
        """A user pressed an inline button with `data` under `message` (a sent message). Its update id."""
        m = message or (self.messages[-1] if self.messages else None)
        msg = {"message_id": m["message_id"], "date": int(time.time()),
               "chat": {"id": m["chat_id"], "type": "group" if m["chat_id"] < 0 else "private", "title": "security"},
               "from": BOT_USER, "text": m["text"]} if m else None
        cq = {"id": f"cq{self._next_update}x{user_id}", "from": self._user(user_id, username, first_name),
              "chat_instance": "ci-1", "data": data}
        if msg:
            cq["message"] = msg
        return self._enqueue({"callback_query": cq})

    def say(self, user_id: int, text: str, *, chat_id: int = -100200300, username: str | None = None,
            first_name: str = "Responder") -> int:
        """A user wrote `text` (a command) in `chat_id`. Its update id."""
        entities = []
        if text.startswith("/"):
            entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        msg = {"message_id": 5000 + self._next_update, "date": int(time.time()),
               "chat": {"id": chat_id, "type": "group" if chat_id < 0 else "private", "title": "security"},
               "from": self._user(user_id, username, first_name), "text": text, "entities": entities}
        return self._enqueue({"message": msg})

    def _enqueue(self, body: dict) -> int:
        uid = self._next_update
        self._next_update += 1
        update = {"update_id": uid, **body}
        self.updates.append(update)
        self._new_update.set()
        if self.webhook is not None:
            t = asyncio.ensure_future(self._post_webhook(update))
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)
        return uid

    async def _post_webhook(self, update: dict) -> None:
        headers = {}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
        async with aiohttp.ClientSession() as s:
            async with s.post(self.webhook["url"], json=update, headers=headers) as r:
                self.webhook_results.append(r.status)
        self._touch()

    # ------------------------------------------------------------------ HTTP

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        await self.listen()

    async def stop(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        self.released.set()
        if self._poller is not None and not self._poller.done():
            self._poller.set_result("closing")
        await self._runner.cleanup()

    @staticmethod
    def _ok(result) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(code: int, description: str, parameters: dict | None = None) -> web.Response:
        body = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=code)

    @staticmethod
    def _drop(request: web.Request) -> web.Response:
        request.transport.close()
        return web.Response(status=500)

    async def _params(self, request: web.Request) -> dict:
        if request.content_type == "application/json":
            raw = await request.json()
        else:
            raw = dict(await request.post())
        raw.update(request.query)
        out = {}
        for k, v in raw.items():
            if isinstance(v, str) and k in ("reply_markup", "allowed_updates", "link_preview_options"):
                v = json.loads(v)
            out[k] = v
        return out

    def _take_fault(self, method: str, chat: int | None) -> Fault | None:
        for f in list(self.faults):
            if (f.method is None or f.method == method) and (f.chat is None or f.chat == chat):
                f.times -= 1
                if f.times <= 0:
                    self.faults.remove(f)
                return f
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append(Call(method, params))
        self._touch()
        if time.monotonic() < self.outage_until:
            return self._drop(request) if self.outage_mode == "drop" else self._error(502, "Bad Gateway")
        chat = int(params["chat_id"]) if str(params.get("chat_id", "")).lstrip("-").isdigit() else None
        f = self._take_fault(method, chat)
        deliver_then = None
        if f is not None:
            if f.kind == "429":
                return self._error(429, f"Too Many Requests: retry after {f.retry_after}",
                                   {"retry_after": f.retry_after})
            if f.kind in ("500", "502"):
                return self._error(int(f.kind), "Internal Server Error" if f.kind == "500" else "Bad Gateway")
            if f.kind == "bad_request":
                return self._error(400, f.description or "Bad Request: chat not found")
            if f.kind == "forbidden":
                return self._error(403, f.description or "Forbidden: bot was kicked from the group chat")
            if f.kind == "migrate":
                return self._error(400, "Bad Request: group chat was upgraded to a supergroup chat",
                                   {"migrate_to_chat_id": int(f.description)})
            if f.kind == "drop_before":
                return self._drop(request)
            deliver_then = f
        if chat is not None and chat in self.dead_chats:
            code, desc = self.dead_chats[chat]
            return self._error(code, desc)
        handler = getattr(self, "_m_" + method, None)
        if handler is None:
            return self._error(404, "Not Found")
        response = await handler(params)
        if deliver_then is not None:  # the call took effect; what the client hears is the fault
            if deliver_then.kind == "drop_after":
                return self._drop(request)
            if deliver_then.kind == "slow":
                await asyncio.sleep(deliver_then.seconds)
            if deliver_then.kind == "hold":
                await self.released.wait()
        return response

    # ------------------------------------------------------------------ methods

    async def _m_getMe(self, p: dict) -> web.Response:
        return self._ok(BOT_USER)

    def _message(self, chat: int, message_id: int, text: str, markup) -> dict:
        m = {"message_id": message_id, "date": int(time.time()), "from": BOT_USER,
             "chat": {"id": chat, "type": "group" if chat < 0 else "private", "title": "security"}, "text": text}
        if markup:
            m["reply_markup"] = markup
        return m

    async def _m_sendMessage(self, p: dict) -> web.Response:
        chat, text = int(p["chat_id"]), str(p.get("text", ""))
        if not text:
            return self._error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return self._error(400, "Bad Request: message is too long")
        mid = self._next_message
        self._next_message += 1
        markup = p.get("reply_markup")
        self.messages.append({"message_id": mid, "chat_id": chat, "text": text, "reply_markup": markup,
                              "at": time.monotonic(), "link_preview_options": p.get("link_preview_options")})
        self.current[(chat, mid)] = {"text": text, "reply_markup": markup}
        TEXTS.append(text)
        self._touch()
        return self._ok(self._message(chat, mid, text, markup))

    async def _m_editMessageText(self, p: dict) -> web.Response:
        chat, mid, text = int(p["chat_id"]), int(p["message_id"]), str(p.get("text", ""))
        now = self.current.get((chat, mid))
        if now is None:
            return self._error(400, "Bad Request: message to edit not found")
        markup = p.get("reply_markup")
        if now["text"] == text and now["reply_markup"] == markup:
            return self._error(400, "Bad Request: message is not modified: specified new message content and "
                                    "reply markup are exactly the same as a current content and reply markup "
                                    "of the message")
        self.current[(chat, mid)] = {"text": text, "reply_markup": markup}
        self.edits.append({"chat_id": chat, "message_id": mid, "text": text, "reply_markup": markup,
                           "at": time.monotonic()})
        TEXTS.append(text)
        self._touch()
        return self._ok(self._message(chat, mid, text, markup))

    async def _m_answerCallbackQuery(self, p: dict) -> web.Response:
        self.answers.append({"id": p.get("callback_query_id"), "text": p.get("text", ""),
                             "show_alert": str(p.get("show_alert", "false")).lower() == "true"})
        self._touch()
        return self._ok(True)

    async def _m_setWebhook(self, p: dict) -> web.Response:
        url = p.get("url", "")
        if url and not re.match(r"^https?://", url):
            return self._error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = {"url": url, "secret_token": p.get("secret_token")} if url else None
        self._touch()
        return self._ok(True)

    async def _m_deleteWebhook(self, p: dict) -> web.Response:
        self.webhook = None
        return self._ok(True)

    async def _m_getUpdates(self, p: dict) -> web.Response:
        if self.webhook is not None:
            return self._error(409, "Conflict: can't use getUpdates method while webhook is active; use "
                                    "deleteWebhook to delete the webhook first")
        if self._poller is not None and not self._poller.done():
            self.conflicts += 1
            self._poller.set_result("conflict")  # Telegram ends the earlier request
        me = asyncio.get_running_loop().create_future()
        self._poller = me
        offset = int(p.get("offset") or 0)
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        limit = int(p.get("limit") or 100)
        deadline = time.monotonic() + float(p.get("timeout") or 0)
        while True:
            if me.done() and me.result() == "conflict":
                return self._error(409, "Conflict: terminated by other getUpdates request; make sure that only "
                                        "one bot instance is running")
            ready = self.updates[:limit]
            left = deadline - time.monotonic()
            if ready or left <= 0 or me.done():
                if self._poller is me:
                    self._poller = None
                return self._ok(ready)
            self._new_update.clear()
            waiter = asyncio.ensure_future(self._new_update.wait())
            await asyncio.wait([waiter, me], timeout=left, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()


@asynccontextmanager
async def fake_telegram(token: str = TOKEN):
    fake = FakeTelegram(token)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


# ---------------------------------------------------------------------- the redaction check

_REF = re.compile(r"\bs-[a-z2-7]{16}\b")
_EMAIL = re.compile(r"[\w.*+-]+@[\w-]+(\.[\w-]+)+")
_DIGITS = re.compile(r"\d{6,}")


def register_roster(rows) -> None:
    """The synthetic staff a test uses: their names, numbers and addresses must never be paged."""
    for r in rows:
        for v in (r.forenames, r.surname, r.pay_number, r.warrant_number, r.email):
            if v:
                ROSTER_VALUES.add(v.lower())


def leaks_in(texts, values) -> list[str]:
    """Problems: a roster value (a name as a word), an e-mail address, a run of 6+ digits."""
    problems = []
    names = sorted((v for v in values if v.isalpha()), key=len, reverse=True)
    name_re = re.compile(r"(?<![a-z])(" + "|".join(map(re.escape, names)) + r")(?![a-z])") if names else None
    others = [v for v in values if not v.isalpha()]
    for text in texts:
        low = _REF.sub(" ", text.lower())  # refs are opaque: a name inside one is chance
        if name_re is not None and (m := name_re.search(low)):
            problems.append(f"roster name {m.group()!r} in {text[:80]!r}")
        for v in others:
            if v in low:
                problems.append(f"roster value {v!r} in {text[:80]!r}")
        if m := _EMAIL.search(low):
            problems.append(f"e-mail address {m.group()!r} in {text[:80]!r}")
        if m := _DIGITS.search(low):
            problems.append(f"digit run {m.group()!r} in {text[:80]!r}")
    return problems


@pytest.fixture(scope="session")
def page_redaction():
    """After the session: no text sent or edited through a fake Telegram holds a roster value,
    an e-mail address or a run of 6+ digits."""
    yield TEXTS
    problems = leaks_in(TEXTS, ROSTER_VALUES)
    assert not problems, "pages leak: " + "; ".join(problems[:5])

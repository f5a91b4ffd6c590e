"""A loopback HTTP server speaking the OpenAI chat-completions API: the only stand-in the tests allow.

Scripted per test: `script(user_key, n, body) -> Reply` decides each answer, where `n` counts the
requests seen for that user (1-based) and `user_key` is read from the prompt's JSON facts. It records
every request body (the privacy canary reads them) and the usage it returned (the ledger must equal it).
Usage is what a tokenizer-free server can say: ceil(bytes / 4) of the prompt and of the answer.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    # The listen backlog is fixed at bind time (default 5): a burst of concurrent clients would overflow it
    # and wait for SYN retransmits (1 s and more), which looks like a slow provider.
    request_queue_size = 1024
    daemon_threads = True


@dataclass
class Reply:
    status: int = 200
    content: str | None = None  # the assistant message (for 200)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    raw_body: bytes | None = None  # send these bytes as the body instead (malformed responses)


USER_RE = re.compile(r'"user_key":\s*"([^"]+)"')


class Loopback:
    def __init__(self, script: Callable[[str, int, dict], Reply], latency_s: float = 0.0):
        self.script = script
        self.latency_s = latency_s
        self.bodies: list[str] = []
        self.usage: list[tuple[int, int]] = []
        self.counts: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()
        handler = self._handler()
        self.server = _Server(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> Loopback:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def tokens(self) -> tuple[int, int]:
        with self.lock:
            return sum(u[0] for u in self.usage), sum(u[1] for u in self.usage)

    def _handler(self):
        loop = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                body = json.loads(raw)
                prompt = json.dumps(body.get("messages", []), ensure_ascii=False)
                match = USER_RE.search(raw.replace('\\"', '"'))
                user = match.group(1) if match else ""
                with loop.lock:
                    loop.bodies.append(raw)
                    loop.counts[user] += 1
                    n = loop.counts[user]
                reply = loop.script(user, n, body)
                time.sleep(loop.latency_s + reply.delay_s)
                if reply.raw_body is not None:
                    payload = reply.raw_body
                elif reply.status == 200:
                    content = reply.content or ""
                    usage = (math.ceil(len(prompt.encode()) / 4), math.ceil(len(content.encode()) / 4))
                    with loop.lock:
                        loop.usage.append(usage)
                    payload = json.dumps({
                        "id": f"chatcmpl-{n}", "object": "chat.completion", "created": int(time.time()),
                        "model": body.get("model"),
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": content, "refusal": None}}],
                        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                                  "total_tokens": usage[0] + usage[1]},
                    }).encode()  # fmt: skip
                else:
                    payload = json.dumps(
                        {"error": {"message": f"scripted {reply.status}", "type": "test"}}
                    ).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

        return Handler

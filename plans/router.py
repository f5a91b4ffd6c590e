"""The policy-aware router: every model call of the plans stage goes through here.

A policy per task type (`POLICIES`: plan, follow-up message, weekly summary) says which chain of providers
answers (primary -> secondary -> the offline planner), with which temperature, token cap, attempts, cost
envelopes (per call and per night), cache lifetime and whether a human must approve.

Invariants, each tested against a loopback OpenAI-compatible server:

- The night's envelope is never exceeded: before each attempt the router reserves the attempt's worst
  case (an upper bound of its input tokens, see `input_token_bound`, plus `max_tokens` of output) and
  refuses the call when spent + reserved + worst case passes the envelope. Every attempt counts: retried,
  failed and re-asked ones included, which is why the SDK's own retries are OFF (`max_retries=0`) and the
  usage is read from the raw response even when its content does not parse.
- The ledger (`plans.llm_calls`, one row per attempt) carries exactly the usage the server returned.
- A response is cached by hash(task, model, prompt version, prompt), parsable or not: replaying a night
  replays the same answers (and verdicts) at zero tokens.
- One user's failure never fails the night: every request ends with an answer, from a provider or from
  its offline fallback, with the reason recorded.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, cast

from pydantic import BaseModel, ValidationError

from plans.prices import Price, UnknownPrice, price_of

OFFLINE = "offline"


@dataclass(frozen=True)
class Policy:
    """How one task type is answered. Costs in USD; `cache_ttl_hours` bounds how long an answer is reused."""

    task: str
    prompt_version: str
    temperature: float
    max_tokens: int
    attempts: int  # per provider, re-asks included
    call_envelope_usd: float  # worst case of one attempt must fit
    night_envelope_usd: float  # everything this task spends in one night
    cache_ttl_hours: int
    approval: Literal["auto_when_close", "always", "never"]
    max_auto_distance: float  # plan distance under which an approvable plan is auto-approved
    context_token_budget: int  # facts put into the prompt (`plans.prompts.select_context`)
    timeout_s: float = 20.0
    max_retry_after_s: float = 10.0  # longer Retry-After: give up on this provider, try the next
    reask_on_invalid: bool = True  # one re-ask with the validation error, then the offline answer


POLICIES: dict[str, Policy] = {
    "plan": Policy("plan", "plan-v1", 0.2, 1800, 3, 0.01, 25.0, 24 * 14, "auto_when_close", 0.5, 1500),
    "follow_up": Policy("follow_up", "follow-up-v1", 0.4, 200, 2, 0.002, 5.0, 24 * 7, "never", 1.0, 400),
    "weekly_summary": Policy(
        "weekly_summary", "weekly-summary-v1", 0.3, 400, 2, 0.004, 5.0, 24 * 7, "never", 1.0, 800
    ),
}


@dataclass(frozen=True)
class Provider:
    """One OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, Gemini's compatible API, a loopback)."""

    name: str
    base_url: str
    model: str
    api_key: str = field(default="unused", repr=False)
    price: Price | None = None  # None: the pinned table (plans.prices)


def constant(value: BaseModel) -> Callable[[], BaseModel]:
    """A request's fallback that answers `value` (the offline answer computed before the night)."""
    return lambda: value


def providers_from_settings(settings) -> list[Provider]:
    """The chain configured by environment variables (core.settings), primary first."""
    chain = []
    for role in ("primary", "secondary"):
        url, model = getattr(settings, f"llm_{role}_base_url"), getattr(settings, f"llm_{role}_model")
        if url and model:
            chain.append(Provider(role, url, model, getattr(settings, f"llm_{role}_api_key") or "unused"))
    return chain


@dataclass
class Request:
    """One question to the router, with how to check an answer and what to answer without a model."""

    task: str
    user_key: str
    messages: list[dict]
    response_model: type[BaseModel]
    validate: Callable[[BaseModel], list[str]]  # guardrail and privacy reasons; empty = acceptable
    fallback: Callable[[], BaseModel]  # the offline answer (always valid)
    # Applied to everything the router itself adds to a conversation (a re-ask quotes the refused answer,
    # which may carry the very personal data it was refused for): plans.privacy.scrub with the user's values.
    scrub: Callable[[str], str] = lambda text: text


@dataclass
class Result:
    user_key: str
    task: str
    answer: BaseModel
    provider: str
    model: str
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    fallback_reason: str | None = None
    rejected_reasons: list[str] = field(default_factory=list)  # verdicts of answers that were refused
    cache_hits: int = 0
    calls: int = 0


@dataclass
class Attempt:
    """One ledger row (plans.llm_calls)."""

    user_key: str
    task: str
    provider: str
    model: str
    attempt: int
    outcome: str
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_ms: int = 0
    cache_hit: bool = False
    error: str | None = None


class Budget:
    """A night's cost envelope. Single event loop: check-and-reserve has no await in between."""

    def __init__(self, envelope_usd: float):
        self.envelope = envelope_usd
        self.spent = 0.0
        self.reserved = 0.0
        self.refused = 0

    def reserve(self, worst_case: float) -> bool:
        if self.spent + self.reserved + worst_case > self.envelope + 1e-12:
            self.refused += 1
            return False
        self.reserved += worst_case
        return True

    def settle(self, worst_case: float, actual: float) -> None:
        self.reserved -= worst_case
        self.spent += actual


class RateLimiter:
    """Requests and tokens per minute (a sliding 60 s window), shared by the night's concurrent calls."""

    def __init__(self, rpm: int, tpm: int, clock: Callable[[], float] = time.monotonic):
        self.rpm, self.tpm, self.clock = rpm, tpm, clock
        self.events: collections.deque[tuple[float, int]] = collections.deque()
        self.tokens = 0  # sum of the tokens in `events`
        self.lock = asyncio.Lock()

    async def acquire(self, tokens: int) -> None:
        tokens = min(tokens, self.tpm)
        async with self.lock:
            while True:
                now = self.clock()
                while self.events and now - self.events[0][0] >= 60.0:
                    self.tokens -= self.events.popleft()[1]
                if len(self.events) < self.rpm and self.tokens + tokens <= self.tpm:
                    self.events.append((now, tokens))
                    self.tokens += tokens
                    return
                # Re-check at least every second (the window slides continuously).
                await asyncio.sleep(min(1.0, max(0.01, 60.0 - (now - self.events[0][0]))))


def input_token_bound(messages: list[dict], schema: dict) -> int:
    """An upper bound of the input tokens of a chat call.

    A BPE token covers at least one byte of text, so tokens <= UTF-8 bytes; the JSON schema of a structured
    output is injected into the prompt by the provider, and each message costs a few framing tokens.
    """
    text = sum(len(str(m.get("content", "")).encode()) for m in messages)
    return text + len(json.dumps(schema).encode()) + 8 * len(messages) + 16


def cache_key(task: str, model: str, prompt_version: str, messages: list[dict]) -> str:
    payload = json.dumps([task, model, prompt_version, messages], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class Cached:
    response: str
    tokens_in: int
    tokens_out: int


class Router:
    """Answers requests of one task type for one night (see the module docstring)."""

    def __init__(
        self,
        policy: Policy,
        chain: list[Provider],
        *,
        cache: dict[str, Cached] | None = None,
        concurrency: int = 32,
        rpm: int = 500,
        tpm: int = 2_000_000,
        budget: Budget | None = None,
        lookup: Callable[[str], Cached | None] | None = None,
    ):
        self.policy = policy
        self.chain = chain
        self.cache = cache if cache is not None else {}
        self.new_cache: dict[str, Cached] = {}
        # Re-ask prompts are not known before the night: their cache entries are looked up one by one.
        self.lookup = lookup
        self.budget = budget or Budget(policy.night_envelope_usd)
        self.concurrency = concurrency
        self.limiter = RateLimiter(rpm, tpm)
        self.ledger: list[Attempt] = []
        self._clients: dict[str, Any] = {}

    def cache_keys(self, requests: list[Request]) -> list[str]:
        """Every first-attempt key of these requests (to read the cache in one query before the night)."""
        return [
            cache_key(self.policy.task, p.model, self.policy.prompt_version, r.messages)
            for r in requests
            for p in self.chain
        ]

    def _client(self, provider: Provider):
        if provider.name not in self._clients:
            from openai import AsyncOpenAI  # heavy: imported where it is used

            # max_retries=0: the router counts and prices every attempt itself.
            self._clients[provider.name] = AsyncOpenAI(
                base_url=provider.base_url,
                api_key=provider.api_key,
                max_retries=0,
                timeout=self.policy.timeout_s,
            )
        return self._clients[provider.name]

    async def run(self, requests: list[Request]) -> list[Result]:
        semaphore = asyncio.Semaphore(self.concurrency)

        async def one(request: Request) -> Result:
            async with semaphore:
                try:
                    return await self._answer(request)
                except Exception as exc:  # per-user isolation: a bug on one answer never fails the night
                    return self._offline(request, f"router_error: {type(exc).__name__}: {exc}")

        try:
            return await asyncio.gather(*(one(r) for r in requests))
        finally:
            for client in self._clients.values():
                await client.close()
            self._clients.clear()

    def run_sync(self, requests: list[Request]) -> list[Result]:
        return asyncio.run(self.run(requests))

    def _offline(self, request: Request, reason: str | None, result: Result | None = None) -> Result:
        out = result or Result(request.user_key, request.task, None, OFFLINE, OFFLINE)  # type: ignore[arg-type]
        out.answer = request.fallback()
        out.provider, out.model, out.fallback_reason = OFFLINE, OFFLINE, reason
        return out

    async def _answer(self, request: Request) -> Result:
        result = Result(request.user_key, request.task, None, OFFLINE, OFFLINE)  # type: ignore[arg-type]
        if not self.chain:
            return self._offline(request, None, result)
        reasons: list[str] = []
        for provider in self.chain:
            outcome = await self._try_provider(request, provider, result)
            if isinstance(outcome, BaseModel):
                result.answer, result.provider, result.model = outcome, provider.name, provider.model
                return result
            reasons.append(f"{provider.name}: {outcome}")
            if outcome.startswith(("invalid", "privacy")):
                break  # re-asked once already: the offline answer replaces it (no second model)
        return self._offline(request, "; ".join(reasons), result)

    async def _try_provider(self, request: Request, provider: Provider, result: Result) -> BaseModel | str:
        """An accepted answer, or why this provider gave none."""
        policy = self.policy
        try:
            price = provider.price or price_of(provider.model)
        except UnknownPrice as exc:
            return f"unknown_price: {exc}"
        response_format = strict_response_format(request.response_model)
        messages = list(request.messages)
        reasked = False
        last = "no_attempt"
        for attempt in range(1, policy.attempts + 1):
            key = cache_key(policy.task, provider.model, policy.prompt_version, messages)
            hit = self.cache.get(key) or self.new_cache.get(key)
            if hit is None and attempt > 1 and self.lookup is not None:
                hit = self.lookup(key)
            if hit is not None:
                content = hit.response
                result.cache_hits += 1
                self.ledger.append(
                    Attempt(request.user_key, policy.task, provider.name, provider.model, attempt,
                            "cache_hit", cache_hit=True)
                )  # fmt: skip
            else:
                bound_in = input_token_bound(messages, response_format)
                worst = price.cost(bound_in, policy.max_tokens)
                if worst > policy.call_envelope_usd:
                    return f"call_envelope: worst case {worst:.6f} USD > {policy.call_envelope_usd} USD"
                if not self.budget.reserve(worst):
                    return "budget_exhausted"
                await self.limiter.acquire(bound_in + policy.max_tokens)
                status, content, usage, retry_after, error, ms = await self._call(
                    provider, messages, response_format
                )
                tokens_in, tokens_out = usage
                cost = price.cost(tokens_in, tokens_out)
                self.budget.settle(worst, cost)
                result.tokens_in += tokens_in
                result.tokens_out += tokens_out
                result.cost_usd += cost
                result.calls += 1
                self.ledger.append(
                    Attempt(request.user_key, policy.task, provider.name, provider.model, attempt, status,
                            tokens_in, tokens_out, cost, ms, False, error)
                )  # fmt: skip
                if status != "ok":
                    last = status
                    if status == "rate_limited":
                        wait = retry_after if retry_after is not None else 1.0
                        if wait > policy.max_retry_after_s:
                            return f"rate_limited (retry-after {wait:g} s)"
                        await asyncio.sleep(wait)
                    elif status in ("server_error", "timeout", "connection_error"):
                        await asyncio.sleep(min(0.05 * 2**attempt, 2.0))
                    else:
                        return status  # a client error (400, 401, 404): retrying the same call cannot help
                    continue
                self.new_cache[key] = Cached(content, tokens_in, tokens_out)
            try:
                answer = request.response_model.model_validate_json(content)
                verdict = request.validate(answer)
            except ValidationError as exc:
                answer, verdict = None, [_first_error(exc)]
            if not verdict and answer is not None:
                return answer
            kind = "privacy" if any(v.startswith("privacy") for v in verdict) else "invalid"
            result.rejected_reasons.extend(verdict)
            last = f"{kind}: {'; '.join(verdict[:3])}"
            if reasked or not policy.reask_on_invalid or attempt == policy.attempts:
                return last
            reasked = True
            messages = [
                *messages,
                {"role": "assistant", "content": request.scrub(content[:4000])},
                {
                    "role": "user",
                    "content": request.scrub(
                        "Your answer was refused: "
                        + "; ".join(verdict[:5])
                        + ". Answer again with the same JSON schema, citing only the ids and titles given."
                    ),
                },
            ]
        return f"attempts_exhausted: {last}"

    async def _call(self, provider: Provider, messages: list[dict], response_format: dict):
        """(status, content, (tokens_in, tokens_out), retry_after, error, latency_ms) of one HTTP attempt.

        The request carries exactly the strict JSON schema `chat.completions.parse` sends (built once by the
        SDK's own `type_to_response_format_param`, see `strict_response_format`), and the body is read raw:
        an answer that does not parse still yields its usage (`parse()` raises first, and the attempt's
        tokens would go uncounted), and the schema is not rebuilt per call (`parse` rebuilds it every time:
        19 ms per call here, which capped the night at ~50 calls/s on 2 cores).
        """
        import openai

        client = self._client(provider)
        started = time.perf_counter()
        try:
            raw = await client.chat.completions.with_raw_response.create(
                model=provider.model,
                messages=messages,
                response_format=response_format,
                temperature=self.policy.temperature,
                max_tokens=self.policy.max_tokens,
            )
            ms = int((time.perf_counter() - started) * 1000)
            body = raw.http_response.json()
        except openai.APIStatusError as exc:
            ms = int((time.perf_counter() - started) * 1000)
            usage = _usage(_json_or_none(exc.response))
            if exc.status_code == 429:
                return "rate_limited", "", usage, _retry_after(exc.response), str(exc)[:300], ms
            status = "server_error" if exc.status_code >= 500 else f"http_{exc.status_code}"
            return status, "", usage, None, str(exc)[:300], ms
        except openai.APITimeoutError as exc:
            return "timeout", "", (0, 0), None, str(exc)[:300], int((time.perf_counter() - started) * 1000)
        except openai.APIConnectionError as exc:
            ms = int((time.perf_counter() - started) * 1000)
            return "connection_error", "", (0, 0), None, str(exc)[:300], ms
        except ValueError as exc:  # a 200 whose body is not JSON at all
            ms = int((time.perf_counter() - started) * 1000)
            return "malformed", "", (0, 0), None, str(exc)[:300], ms
        usage = _usage(body)
        try:
            content = body["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            return "malformed", "", usage, None, "no choices[0].message.content", ms
        return "ok", content, usage, None, None, ms


@functools.lru_cache(maxsize=16)
def strict_response_format(model: type[BaseModel]) -> dict:
    """The `response_format` `chat.completions.parse` would send for `model` (strict JSON schema)."""
    from openai.lib._parsing._completions import type_to_response_format_param

    return cast(dict, type_to_response_format_param(model))


def _json_or_none(response) -> dict | None:
    try:
        return response.json()
    except Exception:  # an error page that is not JSON carries no usage
        return None


def _usage(body: dict | None) -> tuple[int, int]:
    usage = (body or {}).get("usage") or {}
    return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)


def _retry_after(response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if errors and errors[0].get("type") == "json_invalid":
        return "schema: the answer is not valid JSON"
    e: dict = dict(errors[0]) if errors else {"loc": (), "msg": str(exc)}
    return f"schema: {'.'.join(str(x) for x in e['loc'])}: {e['msg']}"


def ledger_rows(ledger: list[Attempt], run_id: str, as_of: date) -> list[tuple]:
    return [
        (run_id, as_of, a.user_key, a.task, a.provider, a.model, a.attempt, a.outcome, a.tokens_in,
         a.tokens_out, round(a.cost_usd, 6), a.latency_ms, a.cache_hit, a.error)
        for a in ledger
    ]  # fmt: skip


def write_ledger(conn, ledger: list[Attempt], run_id: str, as_of: date) -> int:
    """Every attempt into plans.llm_calls (one COPY)."""
    cols = ("run_id, as_of_date, user_key, task, provider, model, attempt, outcome, tokens_in, tokens_out,"
            " cost_usd, latency_ms, cache_hit, error")  # fmt: skip
    with conn.cursor().copy(f"copy plans.llm_calls ({cols}) from stdin") as copy:
        for row in ledger_rows(ledger, run_id, as_of):
            copy.write_row(row)
    return len(ledger)


def read_cache(conn, keys: list[str]) -> dict[str, Cached]:
    """Live cache entries among `keys` (one query)."""
    rows = conn.execute(
        "select cache_key, response, tokens_in, tokens_out from plans.llm_cache"
        " where cache_key = any(%s) and expires_at > now()",
        (keys,),
    ).fetchall()
    return {k: Cached(r, i, o) for k, r, i, o in rows}


def write_cache(conn, router: Router) -> int:
    """The night's new responses into plans.llm_cache (upsert: a re-asked prompt may repeat)."""
    policy = router.policy
    models = {p.model for p in router.chain}
    rows = [(k, policy.task, ",".join(sorted(models)), policy.prompt_version, c.response, c.tokens_in,
             c.tokens_out) for k, c in router.new_cache.items()]  # fmt: skip
    if not rows:
        return 0
    with conn.cursor() as cur:
        cur.executemany(
            """
            insert into plans.llm_cache (cache_key, task, model, prompt_version, response, tokens_in,
                tokens_out,
                                         expires_at)
            values (%s, %s, %s, %s, %s, %s, %s, now() + make_interval(hours => %s))
            on conflict (cache_key) do update set response = excluded.response, expires_at =
                excluded.expires_at
            """,
            [(*r, policy.cache_ttl_hours) for r in rows],
        )
    return len(rows)


def fallback_counts(reasons: Iterable[str | None]) -> dict[str, int]:
    """How many answers fell back, by chain of reasons: 'primary: timeout; secondary: budget_exhausted'
    counts as 'timeout>budget_exhausted' (the night's metadata and the boards group by it)."""

    def kind(reason: str) -> str:
        parts = [p.split(":", 2)[1].strip().split(" ")[0] if ":" in p else p for p in reason.split("; ")]
        return ">".join(p.rstrip(":") for p in parts)

    return dict(Counter(kind(r) for r in reasons if r))


def run_recorded(conn, router: Router, requests: list[Request], run_id: str, as_of: date) -> list[Result]:
    """Answer `requests` cache first, then record every attempt in the ledger and the new answers in the
    cache, on `conn` (the night's transaction): a night replayed after a rollback costs zero tokens."""
    router.cache = read_cache(conn, router.cache_keys(requests))
    router.lookup = lambda key: read_cache(conn, [key]).get(key)
    results = router.run_sync(requests)
    write_ledger(conn, router.ledger, run_id, as_of)
    write_cache(conn, router)
    return results

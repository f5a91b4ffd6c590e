"""Plans: every user's learning plan, written nightly, grounded, private, cached and approved.

Domain package (never imports dagster). The pieces, in the order a night uses them:

- `schema`      what a plan is (pydantic, versioned): `PlanDraft` (what a planner writes) and `Plan`
- `inputs`      tonight's planning context per user, read inside PostgreSQL in set-based queries
- `offline`     the deterministic planner: default provider and last fallback
- `selection`   which users need a new plan (inputs fingerprint vs their last approved plan)
- `guardrails`  the checks every plan passes before it can be published
- `privacy`     vault values and the ingestion redactor, before and after every LLM call
- `prices`, `router`, `llm`   the policy-aware router over OpenAI-compatible endpoints
- `store`, `review`, `followups`, `night`   persistence, human approval, follow-ups, the night
"""

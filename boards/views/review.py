"""Review queue: plans waiting for a human, why they wait, and what they change.

Each queued plan shows the reason it was queued and a readable diff against the user's last approved
plan. The reviewer approves, rejects, or edits and approves; the decision is recorded with who and
when through `plans.review.decide`, as role `kairoo_reviewer` (it may write the queue's decision
columns and nothing else), and the next night honours it. Users appear as pseudonymous keys only.
"""

from __future__ import annotations

import psycopg
import streamlit as st

from boards import review, ui
from boards.connection import reviewer_params
from core.database import connect
from core.settings import get_settings

page = ui.Page("Review queue")
try:
    from plans import review as plan_review  # the plans stage (#13) owns the queue and its API
except ImportError as err:
    st.info(f"The plans stage is not installed here ({err}); nothing can be queued for review.")
    page.end()
    st.stop()

params = reviewer_params(get_settings())
decided = st.session_state.pop("review_decided", None)
if decided:
    st.success(decided)
try:
    queue = plan_review.pending(params)  # never cached: a decision must disappear at once
except psycopg.Error as err:  # the queue is not there yet (no night has planned), or the role
    st.info(f"The review queue cannot be read yet: {err}")
    page.end()
    st.stop()

st.metric("Plans waiting", ui.count(len(queue)))
if not queue:
    st.caption("Nothing waits for a decision.")
    page.end()
    st.stop()

labels = {
    f"plan {q['plan_id']} · user {q['user_key'][:12]}… · {q['queued_reason']}": q for q in queue
}  # fmt: skip
choice = st.selectbox("Queued plan", list(labels), key="review_choice")
item = labels[choice]
with connect(params) as conn:
    before = review.previous_plan(conn, item["previous_plan_id"])
plan = item["plan"]

st.markdown(
    f"**Plan** {item['plan_id']} of the night of {item['as_of_date']} · written by {item['provider']}"
    f" ({item['model']}) · decide before {item['deadline']:%Y-%m-%d %H:%M} UTC"
    " (then the offline plan serves)\n\n"
    f"**Queued because:** {item['queued_reason']}"
)

st.subheader("What changes for the user")
st.markdown("\n".join(f"- {line}" for line in review.plan_diff(plan, before).lines()))
with st.expander("JSON diff against the last approved plan", expanded=False):
    st.html(ui.diff_html(review.text_diff(plan, before) or "(identical)"))

st.subheader("Decision")
reviewer = st.text_input("Reviewer", key="review_reviewer", help="Recorded with the decision.")
reason = st.text_input("Reason (optional)", key="review_reason")
edited = st.text_area("Plan (edit, then 'Approve edited plan')", review.pretty(plan), height=360,
                      key=f"review_edit_{item['plan_id']}")  # fmt: skip
c = st.columns(3)
decision: tuple[str, dict | None] | None = None
if c[0].button("Approve", type="primary", key="review_approve"):
    decision = ("approve", None)
if c[1].button("Reject", key="review_reject"):
    decision = ("reject", None)
if c[2].button("Approve edited plan", key="review_edit"):
    try:
        decision = ("edit", review.parse_edit(edited))
    except ValueError as err:
        st.error(str(err))
if decision is not None:
    try:
        row = plan_review.decide(params, item["plan_id"], decision[0], reviewer, edited_plan=decision[1],
                                 reason=reason or None)  # fmt: skip
    except plan_review.ReviewError as err:
        st.error(str(err))
    else:
        when = f"{row['decided_at']:%Y-%m-%d %H:%M:%S} UTC"
        st.session_state["review_decided"] = (
            f"Plan {row['plan_id']}: {row['status']} by {row['reviewer']} at {when}."
            " Tonight's run applies it."
        )
        st.rerun()
page.end()

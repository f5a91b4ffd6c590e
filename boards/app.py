"""The boards' entry point (`make boards`): one multipage Streamlit app over the published marts."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="Kairoo boards", page_icon=":material/monitoring:", layout="wide")
page = st.navigation(
    {
        "Boards": [
            st.Page(PAGES / "executive.py", title="Executive", default=True),
            st.Page(PAGES / "observability.py", title="Observability", url_path="observability"),
            st.Page(PAGES / "review.py", title="Review queue", url_path="review"),
        ]
    }
)
page.run()

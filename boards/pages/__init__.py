"""The app's pages: each file is one Streamlit page script (run by st.navigation or AppTest)."""

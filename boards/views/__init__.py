"""The app's pages: each file is one Streamlit page script (run by st.navigation or AppTest). Not named
`pages/`: Streamlit would list such a folder as pages of its own beside st.navigation's."""

"""Streamlit dashboard: ``streamlit run dashboard/app.py`` from the working folder."""

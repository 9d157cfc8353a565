"""The FastAPI server: sessions, reports, the browser client."""

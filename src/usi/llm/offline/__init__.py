"""The embedded offline models: a scripted OpenAI-compatible server (see server.py)."""

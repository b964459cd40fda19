"""Telling people how a file ended: a short message to Slack, Telegram or a JSON webhook."""

"""Slack-side helpers shared by the listeners: names, replies, Block Kit."""

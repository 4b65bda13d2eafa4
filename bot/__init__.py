"""Slack bot that puts notes and custom events on AWS Systems Manager Incident Manager timelines."""

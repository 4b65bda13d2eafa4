"""The Slack Web API adapter: user names, reading messages back, replies, who the bot is, who may bind."""

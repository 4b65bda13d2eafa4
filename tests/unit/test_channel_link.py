"""The channel as a related item of its incident: its address, its title, and finding it again."""

from __future__ import annotations

from bot.domain.binding import channel_link, links_to_channel


def test_the_link_is_the_channels_address_in_its_workspace_titled_with_its_name() -> None:
    link = channel_link("T0001", "C0123", "checkout-db-down", "https://acme.slack.com/")
    assert link.url == "https://acme.slack.com/archives/C0123"
    assert link.title == "Slack: #checkout-db-down"


def test_without_the_workspace_address_slack_s_redirect_finds_the_channel() -> None:
    link = channel_link("T0001", "C0123", "", None)
    assert link.url == "https://slack.com/app_redirect?team=T0001&channel=C0123"
    assert link.title == "Slack channel C0123"
    assert (
        channel_link("T0001", "G0123", "privategroup", "https://acme.slack.com").title
        == "Slack channel G0123"
    )


def test_the_title_and_address_fit_incident_managers_limits() -> None:
    link = channel_link("T0001", "C0123", "x" * 500, "https://acme.slack.com/")
    assert len(link.title) == 200


def test_the_channels_item_is_found_whatever_the_workspace_was_called_then() -> None:
    assert links_to_channel("https://old-name.slack.com/archives/C0123", "C0123")
    assert links_to_channel("https://acme.enterprise.slack.com/archives/C0123/", "C0123")
    assert links_to_channel("https://slack.com/app_redirect?team=T0001&channel=C0123", "C0123")
    assert not links_to_channel("https://acme.slack.com/archives/C0999", "C0123")
    assert not links_to_channel("https://acme.slack.com/archives/C0123/p1764150000123456x", "C01")
    assert not links_to_channel("https://runbooks.example.com/C0123", "C0123")

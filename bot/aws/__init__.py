"""The AWS side: Incident Manager behind a small interface."""

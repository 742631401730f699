"""Offline, hands-free voice assistant for tingling or numbness in the back."""

__version__ = "0.1.0"

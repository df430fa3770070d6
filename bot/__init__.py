"""A privacy-first, Rasa-style WhatsApp assistant for small Mexican medical practices."""

__version__ = "0.1.0"

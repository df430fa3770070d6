"""One error hierarchy for the whole engine.

Every error a user, a config file or a remote peer can cause is a ``BotError`` subclass with a message
that says what to fix. Channel edges catch ``BotError`` (and, as a last resort, ``Exception``) and turn it
into a safe reply; everything else lets it propagate.
"""

from __future__ import annotations


class BotError(Exception):
    """Base class for every error raised on purpose by this project."""


class ConfigError(BotError):
    """A configuration file or environment variable is missing, malformed or inconsistent."""


class TrainingDataError(BotError):
    """NLU or story training data cannot be read."""


class ModelNotFoundError(BotError):
    """No trained model is available where one was expected."""


class StoreError(BotError):
    """A tracker, lock or database backend failed or is unreachable."""


class LockTimeoutError(StoreError):
    """A per-conversation lock could not be acquired in time."""


class FlowError(BotError):
    """The conversation flow definition is invalid or a stored state cannot be restored."""


class DomainError(BotError):
    """domain.yml is invalid (unknown slot, response using a clinical slot on WhatsApp, ...)."""


class ActionError(BotError):
    """A custom action failed."""


class SlotUnavailableError(ActionError):
    """The requested appointment slot is taken or outside the clinic's hours."""


class DisclosureBlockedError(BotError):
    """An outbound message was blocked by the disclosure gate."""


class ChannelError(BotError):
    """A channel received a malformed or unauthenticated request."""


class OutsideWindowError(ChannelError):
    """Free text refused: WhatsApp's 24-hour customer-service window is closed; send an approved template."""


class DeliveryError(ChannelError):
    """The channel's provider refused a message for a reason a retry cannot fix."""


class ComplianceError(BotError):
    """A compliance rule (consent, retention floor, audit chain) was violated."""


class NotAPhoneNumberError(ComplianceError, ValueError):
    """A value given as a phone number is not one (nothing can be keyed by it)."""

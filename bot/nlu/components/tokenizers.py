"""WhitespaceTokenizer: word tokens with offsets into the original text."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from bot.errors import ConfigError
from bot.nlu.components.base import Component, Message, Token
from bot.nlu.text import FEATURE_CHAR_LIMIT, normalise

# Words, keeping inner punctuation that belongs to them: "10:30", "5.5", "e-mail", "d'Artagnan".
DEFAULT_TOKEN_PATTERN = r"\w+(?:['’.,:/@\-]\w+)*"


class WhitespaceTokenizer(Component):
    """Rasa's WhitespaceTokenizer: splits on whitespace and drops punctuation/emoji around words.

    ``intent_tokenization_flag`` and ``intent_split_symbol`` are accepted for compatibility (they
    only matter to Rasa's multi-intent DIET training).
    """

    name = "WhitespaceTokenizer"
    kind = "tokenizer"
    defaults: ClassVar[dict[str, Any]] = {"token_pattern": None}
    ignored = ("intent_tokenization_flag", "intent_split_symbol")

    def validate(self) -> None:
        pattern = self.config["token_pattern"]
        if pattern is not None:
            if not isinstance(pattern, str):
                raise self._fail("token_pattern", "a regular expression string")
            try:
                re.compile(pattern)
            except re.error as e:
                raise ConfigError(f"{self.name}: invalid token_pattern: {e}") from e
        self._pattern = re.compile(pattern or DEFAULT_TOKEN_PATTERN)

    def tokenize(self, text: str) -> list[Token]:
        return [
            Token(m.group(), m.start(), m.end())
            for m in self._pattern.finditer(text[:FEATURE_CHAR_LIMIT])
            if m.end() > m.start()
        ]

    def process(self, message: Message) -> None:
        message.tokens = self.tokenize(message.text)
        norm = (normalise(t.text, lowercase=False) for t in message.tokens)
        message.norm_tokens = [t for t in norm if t]

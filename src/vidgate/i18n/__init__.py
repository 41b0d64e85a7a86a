"""Messages in the caller's language: templates (``Message``), their catalogues, and the choice
of language for a request (``choose``). See ``catalogue`` for how a message is added."""

from vidgate.i18n.catalogue import LANGUAGES, TRANSLATED, template
from vidgate.i18n.message import Message, Param, as_message
from vidgate.i18n.negotiate import choose

__all__ = ["LANGUAGES", "TRANSLATED", "Message", "Param", "as_message", "choose", "template"]

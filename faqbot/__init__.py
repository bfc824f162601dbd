"""faqbot: match what people type to curated answers, with a calibrated confidence, or decline."""

from .bot import Bot
from .callback import CallbackRejected, CallbackRequest
from .callback_store import CallbackStore
from .dialog import Conversation, ConversationState
from .engine import Engine, EngineOptions
from .exceptions import FaqbotError, KnowledgeError, ProtocolError
from .knowledge import KnowledgeBase, load
from .models import CallbackTexts, Candidate, Entry, Option, Reply, ReplyType, Settings
from .recorder import Recorder

__version__ = "0.1.0"

__all__ = [
    "Bot", "CallbackRejected", "CallbackRequest", "CallbackStore", "CallbackTexts", "Candidate", "Conversation", "ConversationState", "Engine", "EngineOptions", "Entry",
    "FaqbotError", "KnowledgeBase", "KnowledgeError", "Option", "ProtocolError", "Recorder", "Reply", "ReplyType",
    "Settings", "load", "__version__",
]

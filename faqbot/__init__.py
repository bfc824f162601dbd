"""faqbot: match what people type to curated answers, with a calibrated confidence, or decline."""

from .bot import Bot
from .dialog import Conversation, ConversationState
from .engine import Engine, EngineOptions
from .exceptions import FaqbotError, KnowledgeError, ProtocolError
from .knowledge import KnowledgeBase, load
from .models import Candidate, Entry, Option, Reply, ReplyType, Settings
from .recorder import Recorder

__version__ = "0.1.0"

__all__ = [
    "Bot", "Candidate", "Conversation", "ConversationState", "Engine", "EngineOptions", "Entry",
    "FaqbotError", "KnowledgeBase", "KnowledgeError", "Option", "ProtocolError", "Recorder", "Reply", "ReplyType",
    "Settings", "load", "__version__",
]

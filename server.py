"""The FastAPI app for ``uvicorn server:app`` from a checkout; settings come from ``FAQBOT_*`` variables."""

import os

from faqbot.config import Config
from faqbot.server import create_app

app = create_app(Config.from_env(os.environ))

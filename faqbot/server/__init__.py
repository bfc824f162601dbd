"""The web server: ``create_app(config)`` builds the FastAPI app, ``run(config)`` serves it with uvicorn."""

from .app import create_app
from .run import run

__all__ = ["create_app", "run"]

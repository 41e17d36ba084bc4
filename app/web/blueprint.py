"""The dashboard's blueprint: its templates and its vendored static files (no CDN)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("dashboard", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")

"""Chinese administrative divisions (GB/T 2260): province → city → district, by code."""

import json
from functools import cache
from pathlib import Path

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

DATA = Path(__file__).parent / "data" / "regions.json"


@cache
def _tree() -> list[dict]:
    return json.loads(DATA.read_text(encoding="utf-8"))


@cache
def _index() -> dict[str, dict]:
    """code → {"name", "parent", "children"}."""
    index: dict[str, dict] = {}

    def walk(nodes, parent):
        for node in nodes:
            index[node["code"]] = {"name": node["name"], "parent": parent, "children": node.get("children", [])}
            walk(node.get("children", []), node["code"])

    walk(_tree(), None)
    return index


def provinces() -> list[tuple[str, str]]:
    return [(p["code"], p["name"]) for p in _tree()]


def children(code: str) -> list[tuple[str, str]]:
    node = _index().get(code)
    return [(c["code"], c["name"]) for c in node["children"]] if node else []


def name(code: str) -> str:
    node = _index().get(code or "")
    return node["name"] if node else ""


def label(province: str, city: str, district: str) -> str:
    """ "广东省 深圳市 南山区"; the 市辖区 placeholder of municipalities is left out."""
    parts = [name(province), name(city), name(district)]
    return " ".join(p for p in parts if p and p not in {"市辖区", "县"})


def validate(province: str, city: str, district: str) -> None:
    """Each level must exist and belong to the level above; lower levels need the higher."""
    index = _index()
    errors = {}
    if province and (province not in index or index[province]["parent"] is not None):
        errors["province"] = _("Pick a province from the list.")
    if city and (not province or index.get(city, {}).get("parent") != province):
        errors["city"] = _("Pick a city of the chosen province.")
    if district and (not city or index.get(district, {}).get("parent") != city):
        errors["district"] = _("Pick a district of the chosen city.")
    if errors:
        raise ValidationError(errors)

"""Every amount the shop sends (API bodies, error details, outbox payloads)
has one wire form, built in one place."""

import ast
from pathlib import Path

from apps.core.api.serializers import MoneySerializer
from apps.core.money import Money, money_api

APPS = Path(__file__).resolve().parents[2] / "apps"
THE_ONE_BUILDER = APPS / "core" / "money.py"


def test_money_api_is_what_money_serializer_documents():
    body = money_api(1999, "USD")
    assert body == {"amount": 1999, "currency": "USD"}
    assert MoneySerializer(body).data == body
    assert Money(1999, "USD").as_api() == body


def _hand_built_money_dicts(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        and {k.value for k in node.keys if isinstance(k, ast.Constant)}
        == {"amount", "currency"}
    ]


def test_no_module_builds_the_money_dict_by_hand():
    found = {
        str(path.relative_to(APPS)): lines
        for path in APPS.rglob("*.py")
        if path != THE_ONE_BUILDER and "migrations" not in path.parts
        for lines in [_hand_built_money_dicts(path)]
        if lines
    }
    assert found == {}, "use apps.core.money.money_api"

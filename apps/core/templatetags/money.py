from django import template

from apps.core.money import Money

register = template.Library()


@register.filter(name="money")
def money_filter(amount_minor, currency: str = "USD") -> str:
    """Render minor units for display: ``{{ line.total_minor|money:currency }}``."""
    if amount_minor is None or amount_minor == "":
        return ""
    if isinstance(amount_minor, Money):
        return amount_minor.format()
    return Money(int(amount_minor), currency or "USD").format()

"""Template filters for values as people read them (mobility.readable): ``{{ seconds|duration }}``,
``{% for key, text in event.data|pairs %}``."""

from django import template

from mobility import readable

register = template.Library()


@register.filter
def duration(value) -> str:
    return readable.duration(value)


@register.filter
def pairs(value) -> list[tuple[str, str]]:
    return readable.pairs(value)

"""Template helpers of the viewer: a card's label bars as inline SVG."""

from django import template

from viewer import charts

register = template.Library()


@register.simple_tag
def card_bars(card, max_score: float = 0.0):
    return charts.label_bars(
        [(bar.label, bar.score) for bar in card.top],
        max_value=max_score or None,
        title=f"Top labels of {card.title}",
    )

"""Role checks for templates: ``{% load netviz_roles %}{% if user|is_researcher %}``."""

from django import template

from core.roles import user_is_campaign_admin, user_is_researcher

register = template.Library()


@register.filter
def is_researcher(user) -> bool:
    return user_is_researcher(user)


@register.filter
def is_campaign_admin(user) -> bool:
    return user_is_campaign_admin(user)

from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    """Campaign administration (/manage/, /api/manage/): models, campaigns, uploads, compute,
    status, moderation, exports. No models of its own (they live in explanations)."""

    name = "campaigns"
    verbose_name = "Campaign administration"

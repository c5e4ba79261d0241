"""Keep a guest's play when they sign up or log in (django-allauth signals); drop a saved
campaign's cached card (``selectors.campaign_card``) and the cached playable items; recount the
item tallies of a deleted player's rounds."""

from __future__ import annotations

from allauth.account.signals import user_logged_in, user_signed_up
from django.contrib import messages
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from explanations.models import Campaign, CampaignImage, ClusterMap, ExplanationJob

from . import selectors, services
from .models import Player, Round


def _claim(request, user) -> None:
    if request is None or not hasattr(request, "session"):
        services.player_ensure_for_user(user=user)
        return
    guest_id = request.session.get(services.SESSION_PLAYER_KEY)
    guest = selectors.player_get(player_id=guest_id) if guest_id else None
    account = selectors.player_for_user(user=user)
    before = account.points if account is not None else 0
    player = services.player_claim_guest(user=user, guest_id=guest_id)
    request.session.pop(services.SESSION_PLAYER_KEY, None)
    kept = player.points - before if guest is not None and guest.user_id is None else 0
    if kept > 0:
        # The next page (the play page after sign-up or log-in) says so (issue 14).
        messages.success(
            request,
            f"Your {kept} point{'s were' if kept != 1 else ' was'} kept.",
            fail_silently=True,
        )


@receiver(user_signed_up, dispatch_uid="game_claim_guest_on_signup")
def claim_guest_on_signup(sender, request=None, user=None, **kwargs) -> None:
    _claim(request, user)


@receiver(user_logged_in, dispatch_uid="game_claim_guest_on_login")
def claim_guest_on_login(sender, request=None, user=None, **kwargs) -> None:
    _claim(request, user)


@receiver(post_save, sender=Campaign, dispatch_uid="game_campaign_card_saved")
@receiver(post_delete, sender=Campaign, dispatch_uid="game_campaign_card_deleted")
def evict_campaign_card(sender, instance=None, **kwargs) -> None:
    if instance is not None and instance.pk is not None:
        selectors.campaign_card_evict(campaign_id=instance.pk)


@receiver(post_save, sender=Campaign, dispatch_uid="game_items_campaign_saved")
@receiver(post_delete, sender=Campaign, dispatch_uid="game_items_campaign_deleted")
@receiver(post_save, sender=ExplanationJob, dispatch_uid="game_items_job_saved")
@receiver(post_delete, sender=ExplanationJob, dispatch_uid="game_items_job_deleted")
@receiver(post_save, sender=CampaignImage, dispatch_uid="game_items_image_saved")
@receiver(post_delete, sender=CampaignImage, dispatch_uid="game_items_image_deleted")
@receiver(post_save, sender=ClusterMap, dispatch_uid="game_items_cluster_map_saved")
@receiver(post_delete, sender=ClusterMap, dispatch_uid="game_items_cluster_map_deleted")
def evict_playable_items(sender, **kwargs) -> None:
    selectors.playable_items_evict()


@receiver(pre_delete, sender=Player, dispatch_uid="game_player_deleting")
def remember_player_items(sender, instance=None, **kwargs) -> None:
    """Deleting a player deletes their rounds: note the items whose tallies held them."""
    if instance is not None and instance.pk is not None:
        instance._tally_items = list(
            Round.objects.filter(player_id=instance.pk).values_list("cluster_map_id", flat=True)
        )


@receiver(post_delete, sender=Player, dispatch_uid="game_player_deleted")
def recount_player_items(sender, instance=None, **kwargs) -> None:
    items = getattr(instance, "_tally_items", None)
    if items:
        services.item_tallies_rebuild(cluster_map_ids=items)

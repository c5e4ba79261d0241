"""Campaign administration API (/api/manage/): thin DRF views for campaign admins only.

Nested input/output serializers; services do the work; an ApplicationError becomes a 4xx
``{"detail": message, "errors": [...]}``.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import (
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from core.access import CampaignAdminApi
from core.jobs import JobStatus
from explanations import services as explanation_services
from explanations.models import Campaign, ModelSpec
from explanations.selectors import campaign_get, campaign_list

from . import integration, selectors, services
from .upload_handlers import (
    archive_bytes,
    csv_bytes,
    image_bytes,
    model_bytes,
    upload_errors_check,
)


class ErrorOutput(serializers.Serializer):
    class Meta:
        ref_name = "ManageError"

    detail = serializers.CharField()
    errors = serializers.ListField(child=serializers.CharField(), required=False)


ERRORS = {code: ErrorOutput for code in (400, 403, 404, 409)}


def campaign_or_404(slug: str) -> Campaign:
    campaign = campaign_get(slug=slug)
    if campaign is None:
        raise Http404
    return campaign


class ProgressOutput(serializers.Serializer):
    class Meta:
        ref_name = "ManageProgress"

    total = serializers.IntegerField()
    queued = serializers.IntegerField()
    running = serializers.IntegerField()
    done = serializers.IntegerField()
    failed = serializers.IntegerField()
    fraction_done = serializers.FloatField()


# --- models ------------------------------------------------------------------------------------


class JobOutput(serializers.Serializer):
    """Any background job (core.jobs.JobRow)."""

    class Meta:
        ref_name = "ManageJob"

    kind = serializers.ChoiceField(
        choices=["model", "explanation", "processing", "export", "validation"]
    )
    id = serializers.IntegerField()
    subject = serializers.CharField()
    status = serializers.ChoiceField(choices=JobStatus.choices)
    stage = serializers.CharField(allow_blank=True)
    progress = serializers.FloatField(help_text="Fraction done, 0 to 1.")
    error = serializers.CharField(allow_blank=True)
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class ModelOutput(serializers.Serializer):
    class Meta:
        ref_name = "ManageModel"

    name = serializers.CharField()
    display_name = serializers.CharField()
    kind = serializers.CharField()
    architecture = serializers.CharField()
    status = serializers.ChoiceField(
        choices=JobStatus.choices,
        help_text="Its validation: queued, running, done (usable by campaigns) or failed.",
    )
    n_classes = serializers.SerializerMethodField()
    default_layers = serializers.ListField(child=serializers.CharField())

    def get_n_classes(self, obj) -> int:
        return len(obj.class_names)


class ModelDetailOutput(ModelOutput):
    class Meta:
        ref_name = "ManageModelDetail"

    stage = serializers.CharField(allow_blank=True)
    progress = serializers.FloatField(help_text="Of its validation, 0 to 1.")
    error = serializers.CharField(allow_blank=True, help_text="Why its validation failed.")
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    class_names = serializers.ListField(child=serializers.CharField())
    explainable_layers = serializers.ListField(child=serializers.CharField())
    preprocessing = serializers.DictField()


class ModelListApi(CampaignAdminApi):
    # Files over these limits are dropped while streaming (campaigns/upload_handlers.py).
    upload_limits = {"weights": model_bytes, "class_names": csv_bytes}
    parser_classes = [MultiPartParser, FormParser]

    class Input(serializers.Serializer):
        class Meta:
            ref_name = "ManageModelListInput"

        name = serializers.CharField(max_length=100)
        kind = serializers.ChoiceField(choices=ModelSpec.Kind.choices)
        architecture = serializers.CharField(max_length=200, required=False, allow_blank=True)
        weights = serializers.FileField(required=False)
        class_names = serializers.FileField(required=False)

    @extend_schema(operation_id="manage_models_list", responses={200: ModelOutput(many=True)})
    def get(self, request: Request) -> Response:
        return Response(ModelOutput(selectors.model_spec_list(), many=True).data)

    @extend_schema(
        operation_id="manage_models_create",
        request={"multipart/form-data": Input},
        responses={201: ModelDetailOutput, 202: ModelDetailOutput, **ERRORS},
        description="Register a model: a TorchScript file or a state dict plus its architecture, "
        "and a class-names file (or the name of a built-in or torchvision model). 202: the files "
        "are stored and a worker validates the model (loads it, checks the class count and "
        "finds its layers): poll `Location` (the model's detail) until `status` is `done` "
        "(campaigns may use it) or `failed` (`error` says why; its files are removed and the "
        "name may be registered again). 201: a built-in model already registered and usable.",
    )
    def post(self, request: Request) -> Response:
        upload_errors_check(request)  # a file over its limit: 400 with the limit
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        weights = d.get("weights")
        names = d.get("class_names")
        if d["kind"] in ("builtin", "torchvision") and not weights:
            spec = explanation_services.model_spec_get_or_create_builtin(name=d["name"])
        else:
            spec = explanation_services.model_spec_create(
                name=d["name"],
                kind=d["kind"],
                architecture=d.get("architecture", ""),
                display_name=d["name"],
                weights=(weights.name, weights.read()) if weights else None,
                class_names=(names.name, names.read()) if names else None,
                uploaded_by=request.user,
            )
        done = spec.status == JobStatus.DONE
        return Response(
            ModelDetailOutput(spec).data,
            status=status.HTTP_201_CREATED if done else status.HTTP_202_ACCEPTED,
            headers={"Location": reverse("api-manage-model", args=[spec.name])},
        )


class ModelDetailApi(CampaignAdminApi):
    @extend_schema(
        operation_id="manage_models_detail",
        responses={200: ModelDetailOutput},
        description="A model with the state of its validation (polled after registering it).",
    )
    def get(self, request: Request, name: str) -> Response:
        spec = get_object_or_404(ModelSpec, name=name)
        return Response(ModelDetailOutput(spec).data)


# --- campaigns ---------------------------------------------------------------------------------


class CampaignOutput(serializers.Serializer):
    class Meta:
        ref_name = "ManageCampaign"

    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    model = serializers.CharField(source="model.name")
    status = serializers.CharField()
    results_public = serializers.BooleanField()
    classes = serializers.ListField(child=serializers.CharField())
    aliases = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    forbidden_terms = serializers.DictField(
        child=serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
        help_text="class -> {language code: [terms]} (leak control).",
    )
    languages = serializers.ListField(
        child=serializers.CharField(), help_text="Accepted languages; the first is the main one."
    )
    explained_layers = serializers.ListField(child=serializers.CharField())
    engine_params = serializers.DictField()
    params_hash = serializers.CharField()
    target_mode = serializers.CharField()
    target_rounds = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class CampaignListApi(CampaignAdminApi):
    parser_classes = [JSONParser]

    class Input(serializers.Serializer):
        class Meta:
            ref_name = "ManageCampaignCreateInput"

        name = serializers.CharField(max_length=200)
        description = serializers.CharField(required=False, allow_blank=True, default="")
        model = serializers.SlugField(help_text="Registry name of the model.")
        classes = serializers.ListField(child=serializers.CharField(), required=False, default=list)
        aliases = serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()), required=False
        )
        explained_layers = serializers.ListField(
            child=serializers.CharField(), required=False, default=list
        )
        engine_params = serializers.DictField(
            required=False,
            default=dict,
            help_text="mode, weights, seed, keep_factor, min_clusters, max_clusters, "
            "pca_components, tsne_perplexity, tsne_iterations, reveal_percents, game_size, "
            "reveal_method; every number has an upper bound (docs/ENGINE_API.md): a value out "
            "of range is a 400.",
        )
        target_mode = serializers.ChoiceField(
            choices=Campaign.TargetMode.choices, default=Campaign.TargetMode.PREDICTED
        )
        target_rounds = serializers.IntegerField(min_value=1, max_value=1000, default=5)

    @extend_schema(operation_id="manage_campaigns_list", responses={200: CampaignOutput(many=True)})
    def get(self, request: Request) -> Response:
        return Response(CampaignOutput(campaign_list(), many=True).data)

    @extend_schema(
        operation_id="manage_campaigns_create",
        request=Input,
        responses={201: CampaignOutput, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        model = get_object_or_404(ModelSpec, name=d["model"])
        campaign = explanation_services.campaign_create(
            name=d["name"],
            description=d["description"],
            model=model,
            classes=d["classes"],
            aliases=d.get("aliases") or {},
            explained_layers=d["explained_layers"] or None,
            engine_params=d["engine_params"],
            target_mode=d["target_mode"],
            target_rounds=d["target_rounds"],
        )
        return Response(CampaignOutput(campaign).data, status=status.HTTP_201_CREATED)


class CampaignDetailApi(CampaignAdminApi):
    @extend_schema(operation_id="manage_campaigns_detail", responses={200: CampaignOutput})
    def get(self, request: Request, slug: str) -> Response:
        return Response(CampaignOutput(campaign_or_404(slug)).data)


class CampaignLeakControlApi(CampaignAdminApi):
    parser_classes = [JSONParser]

    class Input(serializers.Serializer):
        class Meta:
            ref_name = "ManageLeakControlInput"

        forbidden_terms = serializers.JSONField(
            required=False,
            help_text="{class: {language code: [terms]}}: replaces the campaign's forbidden "
            "terms (translations and synonyms refused like the class names).",
        )
        languages = serializers.JSONField(
            required=False,
            help_text="ISO 639-1 codes characteristics may be written in, the main one first.",
        )

    class Output(serializers.Serializer):
        class Meta:
            ref_name = "ManageLeakControlOutput"

        forbidden_terms = serializers.DictField(
            child=serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
        )
        languages = serializers.ListField(child=serializers.CharField())

    @extend_schema(operation_id="manage_campaigns_leak_control", responses={200: Output})
    def get(self, request: Request, slug: str) -> Response:
        return Response(self.Output(campaign_or_404(slug)).data)

    @extend_schema(
        operation_id="manage_campaigns_leak_control_set",
        request=Input,
        responses={200: Output, **ERRORS},
        description="Set the forbidden terms per class and language and/or the accepted "
        "languages. Classes may be written loosely (case, first synonym); every problem is "
        "listed in `errors` and nothing is saved then.",
    )
    def put(self, request: Request, slug: str) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        campaign = services.campaign_leak_control_set(
            campaign=campaign_or_404(slug),
            forbidden_terms=d.get("forbidden_terms"),
            languages=d.get("languages"),
        )
        return Response(self.Output(campaign).data)


class ImageProgressOutput(serializers.Serializer):
    class Meta:
        ref_name = "ManageImageProgress"

    image_id = serializers.IntegerField()
    name = serializers.CharField()
    true_class = serializers.CharField()
    predicted_class = serializers.CharField()
    job_id = serializers.IntegerField(allow_null=True)
    status = serializers.CharField()
    progress = serializers.FloatField()
    error = serializers.CharField()
    attempts = serializers.IntegerField()


class CampaignProgressApi(CampaignAdminApi):
    class Output(serializers.Serializer):
        class Meta:
            ref_name = "ManageCampaignProgressOutput"

        status = serializers.CharField(source="campaign.status")
        overall = ProgressOutput()
        images = ImageProgressOutput(many=True)
        failed = ImageProgressOutput(many=True)
        truncated = serializers.BooleanField()
        jobs = JobOutput(many=True, help_text="Background jobs of every kind, one way.")

    @extend_schema(
        operation_id="manage_campaigns_progress",
        responses={200: Output},
        description="Overall and per-image progress of the campaign's explanation jobs, with "
        "every failed job and its reason, and its other background jobs (its model's "
        "validation, label processing, exports, validation runs, running explanations) as "
        "uniform rows (polled by the admin page).",
    )
    def get(self, request: Request, slug: str) -> Response:
        detail = selectors.campaign_progress_detail(campaign=campaign_or_404(slug))
        return Response(self.Output(detail).data)


class SkippedOutput(serializers.Serializer):
    class Meta:
        ref_name = "ManageSkipped"

    name = serializers.CharField()
    reason = serializers.CharField()


class ImportOutput(serializers.Serializer):
    class Meta:
        ref_name = "ManageImport"

    added = serializers.IntegerField()
    image_ids = serializers.ListField(child=serializers.IntegerField())
    class_counts = serializers.DictField(child=serializers.IntegerField())
    skipped = SkippedOutput(many=True)


def _import_data(report: services.ImportReport) -> dict:
    return {
        "added": len(report.added),
        "image_ids": [image.pk for image in report.added],
        "class_counts": report.class_counts,
        "skipped": [{"name": s.name, "reason": s.reason} for s in report.skipped],
    }


class ImageAddApi(CampaignAdminApi):
    # Files over these limits are dropped while streaming (campaigns/upload_handlers.py).
    upload_limits = {"image": image_bytes}
    parser_classes = [MultiPartParser, FormParser]

    class Input(serializers.Serializer):
        class Meta:
            ref_name = "ManageImageAddInput"

        image = serializers.FileField()
        true_class = serializers.CharField(max_length=200)
        compute = serializers.BooleanField(default=True)

    @extend_schema(
        operation_id="manage_images_add",
        request={"multipart/form-data": Input},
        responses={201: ImportOutput, **ERRORS},
    )
    def post(self, request: Request, slug: str) -> Response:
        upload_errors_check(request)  # a file over its limit: 400 with the limit
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        image = services.campaign_image_upload(
            campaign=campaign_or_404(slug),
            content=d["image"].read(),
            original_name=d["image"].name,
            true_class=d["true_class"],
            enqueue=d["compute"],
        )
        report = services.ImportReport(added=[image], class_counts={image.true_class: 1})
        return Response(ImportOutput(_import_data(report)).data, status=status.HTTP_201_CREATED)


class ArchiveAddApi(CampaignAdminApi):
    # Files over these limits are dropped while streaming (campaigns/upload_handlers.py).
    upload_limits = {"archive": archive_bytes}
    parser_classes = [MultiPartParser, FormParser]

    class Input(serializers.Serializer):
        class Meta:
            ref_name = "ManageArchiveAddInput"

        archive = serializers.FileField(help_text="A zip of class folders: <class>/<image>.")
        compute = serializers.BooleanField(default=True)

    @extend_schema(
        operation_id="manage_images_archive",
        request={"multipart/form-data": Input},
        responses={201: ImportOutput, **ERRORS},
        description="Add every image of a zip of class folders, all or nothing. Unsafe paths, "
        "zip bombs, nested archives, unknown or empty class folders are refused (nothing is "
        "stored); files that are not images are skipped and listed.",
    )
    def post(self, request: Request, slug: str) -> Response:
        upload_errors_check(request)  # a file over its limit: 400 with the limit
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.campaign_archive_import(
            campaign=campaign_or_404(slug),
            archive=data.validated_data["archive"],
            enqueue=data.validated_data["compute"],
        )
        return Response(ImportOutput(_import_data(report)).data, status=status.HTTP_201_CREATED)


class CsvAddApi(CampaignAdminApi):
    # Files over these limits are dropped while streaming (campaigns/upload_handlers.py).
    upload_limits = {"csv_file": csv_bytes, "files": archive_bytes}
    parser_classes = [MultiPartParser, FormParser]

    class Input(serializers.Serializer):
        class Meta:
            ref_name = "ManageCsvAddInput"

        csv_file = serializers.FileField(help_text="CSV of file,class lines.")
        files = serializers.FileField(help_text="A zip of the files the CSV lists.")
        compute = serializers.BooleanField(default=True)

    @extend_schema(
        operation_id="manage_images_csv",
        request={"multipart/form-data": Input},
        responses={201: ImportOutput, **ERRORS},
    )
    def post(self, request: Request, slug: str) -> Response:
        upload_errors_check(request)  # a file over its limit: 400 with the limit
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        report = services.campaign_csv_import(
            campaign=campaign_or_404(slug),
            csv_content=d["csv_file"].read(),
            archive=d["files"],
            enqueue=d["compute"],
        )
        return Response(ImportOutput(_import_data(report)).data, status=status.HTTP_201_CREATED)


class CountOutput(serializers.Serializer):
    class Meta:
        ref_name = "ManageCount"

    count = serializers.IntegerField()


class ComputeApi(CampaignAdminApi):
    @extend_schema(
        operation_id="manage_campaigns_compute",
        request=None,
        responses={202: CountOutput, **ERRORS},
        description="Send every job of the campaign that is not done to the workers.",
    )
    def post(self, request: Request, slug: str) -> Response:
        n = services.campaign_compute_start(campaign=campaign_or_404(slug))
        return Response({"count": n}, status=status.HTTP_202_ACCEPTED)


class RetryFailedApi(CampaignAdminApi):
    @extend_schema(
        operation_id="manage_campaigns_retry_failed",
        request=None,
        responses={202: CountOutput},
    )
    def post(self, request: Request, slug: str) -> Response:
        n = services.campaign_failed_retry(campaign=campaign_or_404(slug))
        return Response({"count": n}, status=status.HTTP_202_ACCEPTED)


class JobRetryApi(CampaignAdminApi):
    @extend_schema(
        operation_id="manage_jobs_retry", request=None, responses={202: CountOutput, **ERRORS}
    )
    def post(self, request: Request, slug: str, job_id: int) -> Response:
        services.campaign_job_retry(campaign=campaign_or_404(slug), job_id=job_id)
        return Response({"count": 1}, status=status.HTTP_202_ACCEPTED)


class StatusApi(CampaignAdminApi):
    class Input(serializers.Serializer):
        class Meta:
            ref_name = "ManageStatusInput"

        action = serializers.ChoiceField(
            choices=[*services.STATUS_ACTIONS, *services.RESULTS_ACTIONS]
        )

    @extend_schema(
        operation_id="manage_campaigns_status",
        request=Input,
        responses={200: CampaignOutput, **ERRORS},
        description="publish (items enter the game; needs one computed image), pause, close; "
        "open-results / hide-results: a closed campaign's images, explanations and labels "
        "public or not (a live campaign's are the game's answer key: researchers only).",
    )
    def post(self, request: Request, slug: str) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = services.campaign_status_change(
            campaign=campaign_or_404(slug), action=data.validated_data["action"]
        )
        return Response(CampaignOutput(campaign).data)


class ExportApi(CampaignAdminApi):
    class Output(serializers.Serializer):
        class Meta:
            ref_name = "ManageExportOutput"

        status = serializers.CharField()
        url = serializers.CharField(allow_blank=True)
        size = serializers.IntegerField()
        error = serializers.CharField(allow_blank=True)

    @extend_schema(operation_id="manage_campaigns_export_state", responses={200: Output})
    def get(self, request: Request, slug: str) -> Response:
        latest = integration.export_latest(campaign=campaign_or_404(slug))
        if latest is None:
            return Response({"status": "none", "url": "", "size": 0, "error": ""})
        return Response(self.Output(latest).data)

    @extend_schema(
        operation_id="manage_campaigns_export_start",
        request=None,
        responses={202: Output, **ERRORS},
        description="Start an export task (labels, scores, merged groups, global labels).",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_or_404(slug)
        integration.export_start(campaign=campaign, user=request.user)
        latest = integration.export_latest(campaign=campaign)
        data = (
            self.Output(latest).data
            if latest
            else {"status": JobStatus.QUEUED, "url": "", "size": 0, "error": ""}
        )
        return Response(data, status=status.HTTP_202_ACCEPTED)

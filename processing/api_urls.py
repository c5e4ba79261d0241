from django.urls import path

from .apis import exports, labels, results, verification

urlpatterns = [
    path(
        "campaigns/<slug:slug>/", labels.ProcessingStateApi.as_view(), name="api-processing-state"
    ),
    path(
        "campaigns/<slug:slug>/process/", labels.ProcessApi.as_view(), name="api-processing-process"
    ),
    path(
        "campaigns/<slug:slug>/suggestions/",
        verification.SuggestionListApi.as_view(),
        name="api-processing-suggestions",
    ),
    path(
        "campaigns/<slug:slug>/label-groups/",
        labels.LabelGroupListApi.as_view(),
        name="api-processing-groups",
    ),
    path(
        "campaigns/<slug:slug>/label-groups/merge/",
        labels.LabelGroupMergeApi.as_view(),
        name="api-processing-groups-merge",
    ),
    path(
        "campaigns/<slug:slug>/label-groups/<int:group_id>/",
        labels.LabelGroupDetailApi.as_view(),
        name="api-processing-group",
    ),
    path(
        "campaigns/<slug:slug>/label-groups/<int:group_id>/rename/",
        labels.LabelGroupRenameApi.as_view(),
        name="api-processing-group-rename",
    ),
    path(
        "campaigns/<slug:slug>/label-groups/<int:group_id>/split/",
        labels.LabelGroupSplitApi.as_view(),
        name="api-processing-group-split",
    ),
    path(
        "campaigns/<slug:slug>/label-groups/<int:group_id>/block/",
        labels.LabelGroupBlockApi.as_view(),
        name="api-processing-group-block",
    ),
    path(
        "campaigns/<slug:slug>/curation/",
        labels.CurationRuleListApi.as_view(),
        name="api-processing-curation",
    ),
    path(
        "campaigns/<slug:slug>/curation/<int:rule_id>/",
        labels.CurationRuleDeleteApi.as_view(),
        name="api-processing-curation-rule",
    ),
    path(
        "campaigns/<slug:slug>/mentions/",
        labels.MentionListApi.as_view(),
        name="api-processing-mentions",
    ),
    path(
        "campaigns/<slug:slug>/images/<int:image_id>/scores/",
        results.ImageScoresApi.as_view(),
        name="api-processing-image-scores",
    ),
    path(
        "campaigns/<slug:slug>/images/<int:image_id>/merged-groups/",
        results.ImageMergedGroupsApi.as_view(),
        name="api-processing-image-merged",
    ),
    path(
        "campaigns/<slug:slug>/globals/",
        results.GlobalsApi.as_view(),
        name="api-processing-globals",
    ),
    path(
        "campaigns/<slug:slug>/exports/",
        exports.ExportListApi.as_view(),
        name="api-processing-exports",
    ),
    path("exports/<str:token>/", exports.ExportDetailApi.as_view(), name="api-processing-export"),
    path(
        "exports/<str:token>/download/",
        exports.ExportDownloadApi.as_view(),
        name="api-processing-export-download",
    ),
]

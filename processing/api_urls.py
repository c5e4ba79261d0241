from django.urls import path

from . import apis, verification_apis

urlpatterns = [
    path("campaigns/<slug:slug>/", apis.ProcessingStateApi.as_view(), name="api-processing-state"),
    path(
        "campaigns/<slug:slug>/process/", apis.ProcessApi.as_view(), name="api-processing-process"
    ),
    path(
        "campaigns/<slug:slug>/suggestions/",
        verification_apis.SuggestionListApi.as_view(),
        name="api-processing-suggestions",
    ),
    path(
        "campaigns/<slug:slug>/label-groups/",
        apis.LabelGroupListApi.as_view(),
        name="api-processing-groups",
    ),
    path(
        "campaigns/<slug:slug>/label-groups/merge/",
        apis.LabelGroupMergeApi.as_view(),
        name="api-processing-groups-merge",
    ),
    path(
        "campaigns/<slug:slug>/label-groups/<int:group_id>/",
        apis.LabelGroupDetailApi.as_view(),
        name="api-processing-group",
    ),
    path(
        "campaigns/<slug:slug>/label-groups/<int:group_id>/rename/",
        apis.LabelGroupRenameApi.as_view(),
        name="api-processing-group-rename",
    ),
    path(
        "campaigns/<slug:slug>/label-groups/<int:group_id>/split/",
        apis.LabelGroupSplitApi.as_view(),
        name="api-processing-group-split",
    ),
    path(
        "campaigns/<slug:slug>/label-groups/<int:group_id>/block/",
        apis.LabelGroupBlockApi.as_view(),
        name="api-processing-group-block",
    ),
    path(
        "campaigns/<slug:slug>/curation/",
        apis.CurationRuleListApi.as_view(),
        name="api-processing-curation",
    ),
    path(
        "campaigns/<slug:slug>/curation/<int:rule_id>/",
        apis.CurationRuleDeleteApi.as_view(),
        name="api-processing-curation-rule",
    ),
    path(
        "campaigns/<slug:slug>/mentions/",
        apis.MentionListApi.as_view(),
        name="api-processing-mentions",
    ),
    path(
        "campaigns/<slug:slug>/images/<int:image_id>/scores/",
        apis.ImageScoresApi.as_view(),
        name="api-processing-image-scores",
    ),
    path(
        "campaigns/<slug:slug>/images/<int:image_id>/merged-groups/",
        apis.ImageMergedGroupsApi.as_view(),
        name="api-processing-image-merged",
    ),
    path(
        "campaigns/<slug:slug>/globals/", apis.GlobalsApi.as_view(), name="api-processing-globals"
    ),
    path(
        "campaigns/<slug:slug>/exports/",
        apis.ExportListApi.as_view(),
        name="api-processing-exports",
    ),
    path("exports/<str:token>/", apis.ExportDetailApi.as_view(), name="api-processing-export"),
    path(
        "exports/<str:token>/download/",
        apis.ExportDownloadApi.as_view(),
        name="api-processing-export-download",
    ),
]

from django.contrib import admin

from .models import ValidationRun


@admin.register(ValidationRun)
class ValidationRunAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "class_name", "status", "progress", "simulated", "created_at")
    list_filter = ("status", "simulated")
    readonly_fields = ("params", "params_hash", "timings", "summary", "error")

from django.contrib import admin

from mediators.models import EvidenceRequest, MediatorProfile


@admin.register(MediatorProfile)
class MediatorProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "capacity", "available", "away_until"]
    filter_horizontal = ["conflict_sellers"]


@admin.register(EvidenceRequest)
class EvidenceRequestAdmin(admin.ModelAdmin):
    list_display = ["case", "party", "due_at", "fulfilled_at"]
    raw_id_fields = ["case"]

"""Admin pages for study set-up only. Clients and responses (clinical data) are not in the admin: they are
reached through the staff pages, which check roles and write every read to the audit log."""

from django.contrib import admin

from lacrima.web.studies.forms import StudyForm
from lacrima.web.studies.models import ConsentVersion, Site, Study


class SiteInline(admin.TabularInline):
    model = Site
    extra = 0


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    # the staff pages' form: the same instrument list and schedule checks; licensed item text is attached
    # on the study's licensed-texts page, and participants never see an instrument that lacks it
    form = StudyForm
    list_display = ("slug", "title", "kind", "created_at")
    search_fields = ("slug", "title")
    inlines = [SiteInline]


@admin.register(ConsentVersion)
class ConsentVersionAdmin(admin.ModelAdmin):
    list_display = ("study", "version", "language", "created_at")
    list_filter = ("study", "language")

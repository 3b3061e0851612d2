"""Roles are granted here: a membership ties a user to a study (and a site) as study admin, site
researcher or therapist."""

from django.contrib import admin

from lacrima.web.accounts.models import ApiToken, Membership


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "study", "site", "role")
    list_filter = ("study", "role")
    search_fields = ("user__username",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("user", "name", "token_hash", "created_at", "last_used_at")
    fields = ("user", "name", "token_hash", "created_at", "last_used_at", "revoked_at")

    def has_add_permission(self, request):  # tokens are made with `lacrima manage create_api_token`
        return False

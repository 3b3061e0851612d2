"""URL configuration: admin, staff accounts, studies, participant pages."""

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]

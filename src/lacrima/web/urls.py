"""URL configuration: admin, staff pages, participant pages (``/p/<token>/``)."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("p/", include("lacrima.web.participate.urls")),
]

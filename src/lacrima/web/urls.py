"""URL configuration: admin, staff pages (``/studies/``), participant pages (``/p/<token>/``)."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from lacrima.web.api import api
from lacrima.web.clinic import views as clinic_views

urlpatterns = [
    path("", RedirectView.as_view(url="/clinic/", permanent=False)),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the staff pages' language buttons
    path("accounts/", include("lacrima.web.accounts.urls")),  # login, 2FA, password change and reset
    path("studies/", include("lacrima.web.studies.urls")),
    path("studies/<slug:slug>/audit/", include("lacrima.web.audit.urls")),  # a study's audit trail
    path("clinic/", include("lacrima.web.clinic.urls")),
    path("p/<str:token>/my-chart/", clinic_views.client_view, name="clinic_client_view"),
    path("p/", include("lacrima.web.participate.urls")),
    path("api/", api.urls),
]

"""URL configuration: admin, staff pages (``/studies/``), participant pages (``/p/<token>/``)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from lacrima.web.api import api
from lacrima.web.clinic import views as clinic_views

urlpatterns = [
    path("", RedirectView.as_view(url="/clinic/", permanent=False)),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("studies/", include("lacrima.web.studies.urls")),
    path("clinic/", include("lacrima.web.clinic.urls")),
    path("p/<str:token>/my-chart/", clinic_views.client_view, name="clinic_client_view"),
    path("p/", include("lacrima.web.participate.urls")),
    path("api/", api.urls),
]

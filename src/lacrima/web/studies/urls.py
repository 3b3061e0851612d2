from django.contrib.auth.decorators import login_required
from django.urls import path
from django.views.generic import RedirectView

from lacrima.web.clinic import views as clinic_views
from lacrima.web.studies import views

app_name = "studies"

urlpatterns = [
    path("", views.study_list, name="list"),
    path("new/", views.study_new, name="new"),
    path("<slug:slug>/", views.study_detail, name="detail"),
    path("<slug:slug>/edit/", views.study_edit, name="edit"),
    path("<slug:slug>/licensed-texts/", views.licensed_texts, name="licensed"),
    path("<slug:slug>/sites/new/", views.site_new, name="site_new"),
    path("<slug:slug>/consent/new/", views.consent_new, name="consent_new"),
    path("<slug:slug>/clients/new/", views.client_new, name="client_new"),
    path(
        "<slug:slug>/clients/<path:code>/checkins/<int:pk>/session/",
        views.checkin_session,
        name="checkin_session",
    ),
    # the therapist's client page lives in the clinic app now; the old address keeps working
    path(
        "<slug:slug>/clients/<path:code>/",
        login_required(RedirectView.as_view(pattern_name="clinic:client", permanent=True)),
        name="client",
    ),
    path("<slug:slug>/invitations/new/", views.invitations_new, name="invitations_new"),
    path("<slug:slug>/export/<str:table>.<str:fmt>", views.export, name="export"),
    # the report runs on the task queue: this page queues it and lists the runs (clinic.views.battery_runs)
    path("<slug:slug>/report/", clinic_views.battery_runs, name="report"),
]

from django.urls import path

from lacrima.web.clinic import views

app_name = "clinic"

urlpatterns = [
    path("", views.caseload, name="caseload"),
    path("alerts/<int:alert_id>/", views.alert_open, name="alert"),
    path("alerts/<int:alert_id>/acknowledge/", views.alert_acknowledge, name="alert_acknowledge"),
    path("alerts/<int:alert_id>/note/", views.alert_note, name="alert_note"),
    # path, not str: codes enrolled before codes were checked may hold a "/" (dates first: path is greedy)
    path("<slug:slug>/clients/<path:code>/dates/", views.session_date, name="session_date"),
    path("<slug:slug>/clients/<path:code>/therapist/", views.assign_therapist, name="assign_therapist"),
    path("<slug:slug>/clients/<path:code>/", views.client_page, name="client"),
    path("<slug:slug>/battery/", views.battery_start, name="battery_start"),
    path("<slug:slug>/refit/", views.refit_start, name="refit_start"),
    path("<slug:slug>/battery/<int:run_id>/", views.battery_status, name="battery_status"),
    path("<slug:slug>/battery/<int:run_id>/report/", views.battery_report, name="battery_report"),
]

from django.urls import path

from lacrima.web.participate import views

app_name = "participate"

urlpatterns = [
    path("<str:token>/", views.entry, name="entry"),
    path("<str:token>/consent/", views.consent, name="consent"),
    path("<str:token>/survey/", views.survey, name="survey"),
    path("<str:token>/checkin/", views.checkin, name="checkin"),
    path("<str:token>/measures/", views.measures, name="measures"),
    path("<str:token>/withdraw/", views.withdraw, name="withdraw"),
]

from django.urls import path

from lacrima.web.audit import views

app_name = "audit"

urlpatterns = [path("", views.study_trail, name="trail")]

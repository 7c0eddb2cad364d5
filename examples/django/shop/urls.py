from django.urls import path

from orders import views

urlpatterns = [
    path("", views.index),
    path("orders", views.create),
    path("healthz", views.healthz),
    path("slow", views.slow),
]

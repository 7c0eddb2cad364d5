from django.http import HttpResponse
from django.urls import path

from notes.models import Note


def index(request):
    # Fails (500) unless the migrations ran before the server started.
    return HttpResponse("notes: %d\n" % Note.objects.count())


def healthz(request):
    return HttpResponse("ok\n")


urlpatterns = [path("", index), path("healthz", healthz)]

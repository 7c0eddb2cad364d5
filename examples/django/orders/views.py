"""The shop's HTTP API.

GET  /              the order count and the latest orders, from the orders
                    table (500 unless the migrations ran)
POST /orders        item=NAME&quantity=N adds an order
GET  /healthz       ok, without touching the database (pysup's liveness
                    check: a database outage must not restart every pod)
GET  /slow?s=N      sleeps N seconds: stop the pod meanwhile to see the
                    request finish during the graceful stop
"""
import logging
import os
import time

from django.http import HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .models import Order

log = logging.getLogger("orders")


def index(request):
    latest = [{"item": o.item, "quantity": o.quantity} for o in Order.objects.all()[:5]]
    count = Order.objects.count()
    log.info("orders listed", extra={"orders": count, "worker_pid": os.getpid()})
    return JsonResponse({"orders": count, "latest": latest})


@csrf_exempt
def create(request):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        quantity = int(request.POST.get("quantity", "1"))
    except ValueError:
        return JsonResponse({"error": "quantity must be a number"}, status=400)
    item = request.POST.get("item", "").strip()[:100]
    if not item or quantity < 1:
        return JsonResponse({"error": "want item and a positive quantity"}, status=400)
    order = Order.objects.create(item=item, quantity=quantity)
    log.info("order created", extra={"order_id": order.id, "item": item, "quantity": quantity})
    return JsonResponse({"id": order.id, "item": item, "quantity": quantity}, status=201)


def healthz(request):
    return HttpResponse("ok\n")


def slow(request):
    seconds = float(request.GET.get("s", "2"))
    log.info("slow request started", extra={"seconds": seconds})
    time.sleep(seconds)
    log.info("slow request done", extra={"seconds": seconds})
    return HttpResponse("slow done\n")

import json

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from catalog.pricing import InvalidCoupon

from . import services
from .models import Customer, Order


@csrf_exempt
@require_http_methods(["GET", "POST"])
def orders(request):
    if request.method == "GET":
        email = request.GET.get("customer")
        if not email:
            return JsonResponse({"error": "customer is required"}, status=400)
        found = Order.objects.filter(customer__email=email).prefetch_related("lines__product")
        return JsonResponse({"results": [o.as_dict() for o in found]})
    try:
        payload = json.loads(request.body)
    except ValueError:
        return JsonResponse({"error": "body is not JSON"}, status=400)
    try:
        customer = Customer.objects.get(email=payload.get("customer"))
    except Customer.DoesNotExist:
        return JsonResponse({"error": "unknown customer"}, status=400)
    try:
        items = services.items_from_payload(payload)
        order = services.place_order(customer, items, payload.get("country"), payload.get("coupon", ""))
    except (services.CheckoutError, InvalidCoupon) as e:
        return JsonResponse({"error": str(e)}, status=409)
    return JsonResponse(order.as_dict(), status=201)


def order_detail(request, pk):
    try:
        order = Order.objects.prefetch_related("lines__product").get(pk=pk)
    except Order.DoesNotExist:
        return JsonResponse({"error": f"no order {pk}"}, status=404)
    return JsonResponse(order.as_dict())


@csrf_exempt
@require_http_methods(["POST"])
def order_cancel(request, pk):
    try:
        order = Order.objects.get(pk=pk)
        services.cancel(order)
    except Order.DoesNotExist:
        return JsonResponse({"error": f"no order {pk}"}, status=404)
    except services.CheckoutError as e:
        return JsonResponse({"error": str(e)}, status=409)
    return JsonResponse({"id": order.pk, "status": order.status})

from django.core.paginator import EmptyPage, Paginator
from django.http import JsonResponse

from . import cache, search
from .models import Product

PAGE_SIZE = 20


def product_list(request):
    products = Product.objects.select_related("category").filter(active=True)
    if category := request.GET.get("category"):
        products = products.filter(category__slug=category)
    if (max_price := request.GET.get("max_price")) is not None:
        if not max_price.isdigit():
            return JsonResponse({"error": "max_price must be a whole number of cents"}, status=400)
        products = products.filter(price_cents__lte=int(max_price))
    if query := request.GET.get("q"):
        products = search.rank(query, products)
    paginator = Paginator(products, PAGE_SIZE)
    try:
        page = paginator.page(request.GET.get("page", 1))
    except EmptyPage:
        return JsonResponse({"error": "no such page"}, status=404)
    return JsonResponse(
        {
            "count": paginator.count,
            "page": page.number,
            "pages": paginator.num_pages,
            "results": [p.as_dict() for p in page.object_list],
        }
    )


def product_detail(request, sku):
    try:
        return JsonResponse(cache.product_card(sku))
    except Product.DoesNotExist:
        return JsonResponse({"error": f"no product {sku}"}, status=404)

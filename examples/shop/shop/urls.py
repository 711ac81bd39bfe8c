from django.urls import path

import catalog.views
import orders.views
import shop.views

urlpatterns = [
    path("api/products", catalog.views.product_list),
    path("api/products/<str:sku>", catalog.views.product_detail),
    path("api/orders", orders.views.orders),
    path("api/orders/<int:pk>", orders.views.order_detail),
    path("api/orders/<int:pk>/cancel", orders.views.order_cancel),
    path("api/ops/health", shop.views.health),
    path("api/ops/instances", shop.views.instances),
]

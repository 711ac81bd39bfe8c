from django.db import models

from catalog.models import Product


class Customer(models.Model):
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, default="DE")
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.email


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PAID = "paid"
        SHIPPED = "shipped"
        CANCELLED = "cancelled"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    country = models.CharField(max_length=2)
    coupon = models.CharField(max_length=32, blank=True)
    subtotal_cents = models.PositiveIntegerField(default=0)
    shipping_cents = models.PositiveIntegerField(default=0)
    tax_cents = models.PositiveIntegerField(default=0)
    total_cents = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def as_dict(self):
        return {
            "id": self.pk,
            "customer": self.customer.email,
            "status": self.status,
            "country": self.country,
            "subtotal_cents": self.subtotal_cents,
            "shipping_cents": self.shipping_cents,
            "tax_cents": self.tax_cents,
            "total_cents": self.total_cents,
            "lines": [line.as_dict() for line in self.lines.all()],
        }


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField()
    unit_cents = models.PositiveIntegerField()
    line_cents = models.PositiveIntegerField()

    def as_dict(self):
        return {"sku": self.product.sku, "quantity": self.quantity, "unit_cents": self.unit_cents, "line_cents": self.line_cents}

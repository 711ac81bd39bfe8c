from django.db import models

from orders.models import Order


class Payment(models.Model):
    class Status(models.TextChoices):
        CAPTURED = "captured"
        DECLINED = "declined"
        REFUNDED = "refunded"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    amount_cents = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices)
    reference = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(auto_now_add=True)

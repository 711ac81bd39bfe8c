from django.db import models


class DailySales(models.Model):
    day = models.DateField(unique=True)
    orders = models.PositiveIntegerField()
    revenue_cents = models.PositiveBigIntegerField()
    average_cents = models.PositiveIntegerField()

    class Meta:
        ordering = ["day"]

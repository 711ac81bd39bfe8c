from django.db import models


class Category(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def path(self):
        """Names from the root category down to this one."""
        names, node = [], self
        while node is not None:
            names.append(node.name)
            node = node.parent
        return list(reversed(names))


class Product(models.Model):
    sku = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="products")
    price_cents = models.PositiveIntegerField()
    weight_grams = models.PositiveIntegerField(default=500)
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sku"]

    def __str__(self):
        return f"{self.sku} {self.name}"

    def as_dict(self):
        return {
            "sku": self.sku,
            "name": self.name,
            "price_cents": self.price_cents,
            "category": self.category.slug if self.category else None,
            "active": self.active,
        }

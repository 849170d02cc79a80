import json
import os


class Inventory:
    """A small in-memory inventory of items with quantities and prices."""

    def __init__(self, path=None):
        self.path = path
        self.items = {}

    def add(self, name, quantity=1, price=0.0):
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        entry = self.items.setdefault(name, {"quantity": 0, "price": price})
        entry["quantity"] += quantity
        entry["price"] = price
        return entry

    def remove(self, name, quantity=1):
        entry = self.items.get(name)
        if entry is None:
            raise KeyError(name)
        if entry["quantity"] < quantity:
            raise ValueError("not enough %s in stock" % name)
        entry["quantity"] -= quantity
        if entry["quantity"] == 0:
            del self.items[name]

    def total_value(self):
        total = 0.0
        for name, entry in self.items.items():
            total += entry["quantity"] * entry["price"]
        return total

    def save(self):
        if self.path is None:
            raise ValueError("no path to save to")
        with open(self.path, "w") as f:
            json.dump(self.items, f, indent=2, sort_keys=True)

    def load(self):
        if self.path is None or not os.path.exists(self.path):
            return
        with open(self.path) as f:
            self.items = json.load(f)

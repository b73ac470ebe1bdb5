"""Locust side of bench/vs-locust.sh: the same two-step flow as
bench/profiles/two-step.yaml. Each user opens a cart, waits 2 s, adds an item,
waits 2 s, and so on (a SequentialTaskSet: one request per task, the user's
constant 2 s wait between tasks), over FastHttpUser's keep-alive connection.
"""
from locust import SequentialTaskSet, constant, task
from locust.contrib.fasthttp import FastHttpUser


class TwoStep(SequentialTaskSet):
    @task
    def open_cart(self):
        self.client.post("/v1/carts", json={"customer_id": "c-1", "region": "local"}, name="open_cart")

    @task
    def add_to_cart(self):
        self.client.post("/v1/carts/c-1/items", json={"sku": "sku-1", "qty": 1}, name="add_to_cart")


class Buyer(FastHttpUser):
    wait_time = constant(2)
    tasks = [TwoStep]

"""The pizza application of the lab: a system definition (``system.py``) plus its handlers
(``functions/``). Nothing else in pizzabus knows about pizzas."""

"""Built-in workloads: one module per network, each defining ``build() -> Graph``.

Shipped inside the package as ``desim.zoo``; ``desim workloads`` lists them.
"""

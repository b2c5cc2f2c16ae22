"""The benchmark suite: the service as deployed, under load, beside node-oidc-provider.

Run it with ``./bench/run`` (``./bench/run --quick`` to try it); bench/README.md
says what it measures and how.
"""

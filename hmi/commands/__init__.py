"""The `hmi` subcommands, one module per noun; each module has ``register(subparsers, common)``."""

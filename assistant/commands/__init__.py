"""One module per `draggan-assistant` subcommand; each exposes `register(subparsers)`."""

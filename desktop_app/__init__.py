"""ml-connector: ServiceTitan ⇄ SYSPRO connector for field-service companies."""

__version__ = "0.1.0"
APP_NAME = "ml-connector"
APP_DISPLAY_NAME = "ml-connector"
PUBLISHER = "ml-connector"

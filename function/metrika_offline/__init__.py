"""metrika-offline: Cloud Storage CSV drops to Yandex Metrica offline conversions."""

__version__ = "0.1.0"

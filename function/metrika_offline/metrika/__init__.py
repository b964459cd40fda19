"""The Yandex Metrica management API: the client, its models, the comment and its marker."""

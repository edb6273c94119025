"""Client SDKs for Python, JavaScript and Unity C#, rendered from the OpenAPI
document with the Jinja2 templates in ``chalicelib/sdk_templates/``."""

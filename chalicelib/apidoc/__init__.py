"""The API description: OpenAPI and AsyncAPI documents, the docs page.

Everything here is derived from the route registry and the pydantic models, so a
route added to ``chalicelib/routes.py`` appears in the documents, the docs page
and the SDKs without another edit.
"""

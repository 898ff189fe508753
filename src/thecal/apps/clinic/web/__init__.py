"""The clinician programmer's web app: `create_app` builds it over a clinic store and the clinic's pumps."""

from thecal.apps.clinic.web.app import create_app

__all__ = ["create_app"]

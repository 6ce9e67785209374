"""Names the spec implies but does not spell out: the host an export is reached under."""

from __future__ import annotations

from meshgen.spec.models import Export, Fleet


def export_host(fleet: Fleet, export: Export) -> str:
    """``exports[].host``, or ``<name>.<namespace>.<settings.exportSuffix>``."""
    namespace, name = export.service.split("/")
    return export.host or f"{name}.{namespace}.{fleet.settings.exportSuffix}"

"""GET /v1/vocabularies: every controlled list with Chinese and English labels, so apps hard-code none."""

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.dependencies import ReaderDep
from app.http import cached
from app.reports.models import REPORT_TYPES
from app.vocabularies import repository

router = APIRouter(prefix="/v1", tags=["vocabularies"])

ACCESS = {
    "open": ("直接进入", "Open door"),
    "qr_code": ("扫码登记", "Register with a QR code"),
    "app": ("需APP预约", "Through an app"),
    "keeper_key": ("联系管理员取钥匙", "Key from the keeper"),
}
VERIFICATION = {
    "inspection": ("实地检查", "Inspection"),
    "phone": ("电话核实", "Phone call"),
    "partner_sync": ("合作方同步", "Partner sync"),
    "worker_confirmation": ("职工确认", "Worker confirmation"),
}


def _labelled(codes: dict[str, tuple[str, str]]) -> list[dict[str, str]]:
    return [{"code": code, "zh": zh, "en": en} for code, (zh, en) in codes.items()]


@router.get("/vocabularies")
async def vocabularies(request: Request, reader: ReaderDep) -> Response:
    """Site kinds and amenities (data, from the register), access modes, report types, verification methods."""
    return cached(
        request,
        {
            "kinds": await repository.labelled(reader, "site_kinds"),
            "amenities": await repository.labelled(reader, "amenities"),
            "access": _labelled(ACCESS),
            "report_types": _labelled(REPORT_TYPES),
            "verification_methods": _labelled(VERIFICATION),
        },
        max_age=3600,
    )

"""The closed vocabularies: code lists fixed in code, each one StrEnum with its Chinese and English labels.

Each is used as it is by the table's CHECK constraint (app.database.orm.one_of; tests compare the migrated
constraints with these), the request and response schemas, query parameters, OpenAPI and GET /v1/vocabularies.
Site kinds and amenities are open vocabularies: data in tables (app.vocabularies.service), so adding one needs no
release.
"""

from enum import StrEnum
from typing import Self


class Labelled(StrEnum):
    """A code with its labels: `member = "code", "中文", "English"`."""

    zh: str
    en: str

    def __new__(cls, code: str, zh: str = "", en: str = "") -> Self:
        member = str.__new__(cls, code)
        member._value_ = code
        member.zh, member.en = zh, en
        return member

    @classmethod
    def labelled(cls) -> list[dict[str, str]]:
        return [{"code": m.value, "zh": m.zh, "en": m.en} for m in cls]


class SiteStatus(Labelled):
    active = "active", "正常开放", "Active"
    suspended = "suspended", "暂停开放", "Suspended"
    closed = "closed", "已关闭", "Closed"


class AccessMode(Labelled):
    open = "open", "直接进入", "Open door"
    qr_code = "qr_code", "扫码登记", "Register with a QR code"
    app = "app", "需APP预约", "Through an app"
    keeper_key = "keeper_key", "联系管理员取钥匙", "Key from the keeper"


class VerificationMethod(Labelled):
    inspection = "inspection", "实地检查", "Inspection"
    phone = "phone", "电话核实", "Phone call"
    partner_sync = "partner_sync", "合作方同步", "Partner sync"
    worker_confirmation = "worker_confirmation", "职工确认", "Worker confirmation"


class ReportType(Labelled):
    closed = "closed", "已关闭", "Closed"
    locked = "locked", "锁门进不去", "Locked"
    needs_app = "needs_app", "需扫码/APP才能进", "Needs an app or QR scan to enter"
    moved = "moved", "已搬迁", "Moved"
    wrong_location = "wrong_location", "位置不对", "Wrong location on the map"
    amenity_missing = "amenity_missing", "设施缺失", "Amenity missing"
    other = "other", "其他", "Other"


# Reports that mean a worker may be turned away at the door: these weigh on the ranking until reviewed.
ACCESS_PROBLEMS = (ReportType.closed, ReportType.locked, ReportType.needs_app, ReportType.moved)


class ReportStatus(Labelled):
    open = "open", "待处理", "Open"
    accepted = "accepted", "已采纳", "Accepted"
    rejected = "rejected", "已驳回", "Rejected"


class WorkerGroup(Labelled):
    """Who a visit says they are (optional): the occupations stations serve (SPEC §2), for the usage mix."""

    sanitation = "sanitation", "环卫工人", "Sanitation worker"
    courier = "courier", "快递员", "Courier"
    delivery_rider = "delivery_rider", "外卖骑手", "Delivery rider"
    taxi_driver = "taxi_driver", "出租车/网约车司机", "Taxi or ride-hailing driver"
    truck_driver = "truck_driver", "货车司机", "Truck driver"
    traffic_auxiliary = "traffic_auxiliary", "交通协管员", "Traffic auxiliary"
    construction = "construction", "建筑工人", "Construction worker"
    other = "other", "其他", "Other"


class RatingTag(Labelled):
    """What a worker's rating may say of a station besides its stars."""

    clean = "clean", "干净整洁", "Clean"
    water = "water", "有饮用水", "Drinking water"
    charging = "charging", "能充电", "Charging"
    warm = "warm", "冬天暖和", "Warm in winter"
    cool = "cool", "夏天凉爽", "Cool in summer"
    friendly_keeper = "friendly_keeper", "管理员热情", "Friendly keeper"
    locked = "locked", "锁门进不去", "Locked"
    dirty = "dirty", "脏乱", "Dirty"
    no_water = "no_water", "没有水", "No water"
    broken_equipment = "broken_equipment", "设施损坏", "Broken equipment"
    crowded = "crowded", "太拥挤", "Crowded"


class CallbackReason(Labelled):
    low_stars = "low_stars", "差评（1–2星）", "A 1–2 star rating"
    locked = "locked", "反映锁门", "Reported locked"


class CallbackStatus(Labelled):
    open = "open", "待回访", "Open"
    resolved = "resolved", "已回访", "Resolved"


class RegionLevel(Labelled):
    country = "country", "全国", "Country"
    province = "province", "省", "Province"
    city = "city", "市", "City"
    county = "county", "区县", "District or county"


class Scope(Labelled):
    """What an API key may do."""

    read = "read", "读取", "Read"
    write = "write", "写入", "Write"
    plan = "plan", "目标与进度", "Set targets and publish progress"
    inspect = "inspect", "检查", "Inspect"
    admin = "admin", "管理", "Administer"


class TargetMeasure(Labelled):
    """What a target counts: active sites of the kind, or a covered share as the coverage answers give it."""

    active_sites = "count", "站点数", "Active sites"
    area_share = "area_share", "面积覆盖率", "Covered share of the area"
    population_share = "population_share", "人口覆盖率", "Covered share of the people"


class TargetStatus(Labelled):
    active = "active", "执行中", "Active"
    withdrawn = "withdrawn", "已撤回", "Withdrawn"


class Progress(Labelled):
    """Where a figure stands against a target's line (app.targets.progress.standing)."""

    met = "met", "已完成", "Met"
    on_track = "on_track", "按计划推进", "On track"
    behind = "behind", "滞后", "Behind"

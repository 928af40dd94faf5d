"""The monthly report's words, Chinese first (what a union hands in), English on request (`lang=en`)."""

from typing import Any

from app.vocabularies.closed import Progress, TargetMeasure

LANGUAGES = ("zh", "en")

WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "{name}{kind}建设进度月报",
        "month": "报告月份",
        "measured_on": "统计截至",
        "rule": "覆盖规则",
        "headline": "一、主要指标",
        "figure": "指标",
        "this_month": "本月",
        "change": "较上月",
        "published": "已发布",
        "revised": "修订后",
        "targets": "二、目标完成情况",
        "target": "目标值",
        "due_on": "完成时限",
        "line": "计划进度",
        "actual": "实际",
        "status": "状态",
        "needed": "每月需增",
        "map": "三、覆盖示意图",
        "children": "四、各区县进度（滞后在前）",
        "region": "区县",
        "standing": "进度",
        "shortfall": "落后计划",
        "series": "五、近十二个月进度",
        "period": "月份",
        "sites": "六、本月站点变动",
        "opened": "新建",
        "closed": "关闭",
        "suspended": "暂停",
        "name": "名称",
        "address": "地址",
        "date": "日期",
        "change_type": "变动",
        "none": "无",
        "gaps": "七、尚未覆盖的最大缺口",
        "area": "面积（平方公里）",
        "people": "人口",
        "reports": "八、职工反映",
        "reports_opened": "本月新收",
        "reports_resolved": "本月办结",
        "reports_overdue": "超期未办（超过{days}天）",
        "sources": "数据来源",
        "source_register": "驿站登记册（Yizhan），按{day}当日在册且开放的站点统计",
        "source_coverage": "覆盖率：/v1/coverage/regions/{region}?kind={kind}&as_of={day}，真实面积（椭球）计算",
        "source_population": "人口：{population}",
        "source_published": "已关账月份按发布数据列示，登记册事后更正的数据列为“修订后”",
        "made_at": "生成时间",
        "no_target": "未设目标",
        "share_legend": "面积覆盖率",
        "gap_legend": "覆盖缺口",
        "site_legend": "站点",
        "page": "第 {page} 页",
    },
    "en": {
        "title": "{name}: {kind}, monthly progress report",
        "month": "Month",
        "measured_on": "Measured on",
        "rule": "Coverage rule",
        "headline": "1. Headline figures",
        "figure": "Figure",
        "this_month": "This month",
        "change": "Change since last month",
        "published": "Published",
        "revised": "Revised",
        "targets": "2. Targets",
        "target": "Target",
        "due_on": "Due",
        "line": "Planned by now",
        "actual": "Actual",
        "status": "Status",
        "needed": "Needed a month",
        "map": "3. Coverage map",
        "children": "4. Child regions, behind first",
        "region": "Region",
        "standing": "Standing",
        "shortfall": "Behind the line",
        "series": "5. The last twelve months",
        "period": "Month",
        "sites": "6. Sites opened, closed and suspended this month",
        "opened": "Opened",
        "closed": "Closed",
        "suspended": "Suspended",
        "name": "Name",
        "address": "Address",
        "date": "Date",
        "change_type": "Change",
        "none": "None",
        "gaps": "7. The largest gaps left",
        "area": "Area (km²)",
        "people": "People",
        "reports": "8. Workers' reports",
        "reports_opened": "Opened this month",
        "reports_resolved": "Resolved this month",
        "reports_overdue": "Overdue (open over {days} days)",
        "sources": "Sources",
        "source_register": "The Yizhan register: sites open on {day}",
        "source_coverage": "Coverage: /v1/coverage/regions/{region}?kind={kind}&as_of={day}, true (ellipsoidal) areas",
        "source_population": "Population: {population}",
        "source_published": "Closed months show their published figures; later corrections of the register as revised",
        "made_at": "Made at",
        "no_target": "No target",
        "share_legend": "Covered share",
        "gap_legend": "Gap",
        "site_legend": "Site",
        "page": "Page {page}",
    },
}

FIGURE_MEASURES = {
    "site_count": TargetMeasure.active_sites,
    "covered_area_share": TargetMeasure.area_share,
    "covered_population_share": TargetMeasure.population_share,
}


def label(term: Any, lang: str) -> str:
    """A closed vocabulary's label in the language."""
    return str(term.zh if lang == "zh" else term.en)


def measure_label(measure: str, lang: str) -> str:
    return label(TargetMeasure(measure), lang)


def status_label(status: str | None, lang: str) -> str:
    return WORDS[lang]["no_target"] if status is None else label(Progress(status), lang)


def shown(value: float | None, measure: str, signed: bool = False) -> str:
    """A figure as the report writes it: a count whole, a share in per cent."""
    if value is None:
        return "—"
    sign = "+" if signed and value > 0 else ""
    if measure == TargetMeasure.active_sites:
        return f"{sign}{value:.1f}" if value != round(value) else f"{sign}{round(value)}"
    return f"{sign}{100 * value:.1f} %"

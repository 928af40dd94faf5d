"""Which county-level units are urban districts (市辖区), where the 2 km legal-aid rule applies (SPEC §3).

The data says it by the unit's kind, which its name ends with: a 市辖区 ends in 区, a county in 县 or 旗, a
county-level city in 市. The adcode cannot say it: districts made from counties keep codes in the counties' range
(重庆 500151–500156, 崇明区 310151), and 01–20 also numbers the county-level cities of leagues and autonomous
prefectures (乌兰浩特市 152201). Two county-level units end in 区 without being 市辖区: 六枝特区 (a special
district, 特区) and 神农架林区 (a forestry district, 林区, governed by its province, where the districts 碑林区,
北林区, 金林区 and 万柏林区 belong to cities). An operator's override (`yizhan regions urban`) outranks this rule.
"""


def is_urban_district(name: str, in_a_city: bool) -> bool:
    """Whether a county-level unit named `name` is a 市辖区; `in_a_city`: a prefecture-level city governs it (not its
    province or municipality directly)."""
    if name.endswith("特区"):
        return False
    if name.endswith("林区") and not in_a_city:
        return False
    return name.endswith("区")

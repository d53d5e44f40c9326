"""What the benchmarks share: a throwaway database, weighted draws, and realistic Chinese data.

- `bench_database` creates `registry_bench_<hex>` on a PostgreSQL server (a throwaway pgserver
  instance when none answers), migrates it and drops it afterwards;
- `chinese_name`, `TITLES`, `DEGREES`, `INSTITUTIONS`... are the profile data `api.py` draws;
- `PROVINCES`, `institution_pool`, `DISCIPLINES` and the field-phrase parts (`FIELD_MODIFIERS`,
  `FIELD_SUFFIXES`) are the larger vocabulary `search.py` needs for a national expert pool:
  about 1,500 institutions with GB/T 2260 region codes, and GB/T 13745 disciplines each with
  the research topics its experts list, ordered from most to least common.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Generic, TypeVar

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from services.registry import migrate

T = TypeVar("T")

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# --- database -----------------------------------------------------------------------------


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def reachable(server_url: str) -> bool:
    try:
        with psycopg.connect(libpq(server_url), connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@contextlib.contextmanager
def postgres_server(server_url: str, scratch: Path) -> Iterator[str]:
    """The given server when it answers, otherwise a throwaway pgserver instance."""
    if reachable(server_url):
        yield server_url
        return
    import pgserver

    print(f"no PostgreSQL at {server_url}; starting pgserver in {scratch / 'pg'}")
    server = pgserver.get_server(scratch / "pg", cleanup_mode="delete")
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()


@contextlib.contextmanager
def bench_database(server_url: str, scratch: Path, *, keep: bool) -> Iterator[str]:
    """A fresh database `registry_bench_<hex>`, migrated to head, dropped afterwards."""
    with postgres_server(server_url, scratch) as server:
        name = f"registry_bench_{uuid.uuid4().hex[:12]}"
        admin = libpq(server)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        try:
            migrate.upgrade(url)
            yield url
        finally:
            if keep:
                print(f"kept database {libpq(url)}")
            else:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(name)
                        )
                    )


def copy_rows(cur: psycopg.Cursor[Any], table: str, columns: Sequence[str], rows: Any) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def percentile(cuts: list[float], p: int) -> float:
    """The p-th percentile from `statistics.quantiles(..., n=100)` cut points."""
    return round(cuts[p - 1], 2) if cuts else float("nan")


# --- weighted draws -----------------------------------------------------------------------


def expand(pairs: Sequence[tuple[Any, int]]) -> tuple[Any, ...]:
    """Each value repeated by its weight, so that `rng.choice` draws with those weights."""
    return tuple(value for value, weight in pairs for _ in range(weight))


class Weighted(Generic[T]):
    """Draws with arbitrary (float) weights in O(log n): one `random()` and a bisect."""

    def __init__(self, pairs: Sequence[tuple[T, float]]) -> None:
        if not pairs:
            raise ValueError("nothing to draw from")
        self.cumulative = list(itertools.accumulate(weight for _, weight in pairs))
        self.total = self.cumulative[-1]
        # the last value twice: `random() * total` may round up to `total` itself
        self.values = [value for value, _ in pairs] + [pairs[-1][0]]

    def draw(self, rng: random.Random) -> T:
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


def zipf(values: Sequence[T], s: float = 1.0, offset: float = 0.0) -> Weighted[T]:
    """The first value most common, the k-th about 1/k^s as common: how words are spread."""
    return Weighted([(v, 1.0 / (rank + offset) ** s) for rank, v in enumerate(values, start=1)])


# --- people -------------------------------------------------------------------------------

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤欧阳"  # noqa: E501
GIVEN_MALE = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆峰建国志文博亮成栋"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞秀玲婷雪慧琳莹倩颖佳欣悦晶璐妍洁红梅兰萍琴云"
GIVEN_ANY = "晓子思一天宏嘉雨永安春海新昊辰"


def chinese_name(rng: random.Random, gender: str) -> str:
    """A surname and a one- or two-character given name that fits the gender."""
    pool = GIVEN_MALE if gender == "male" else GIVEN_FEMALE
    given = rng.choice(pool)
    if rng.random() < 0.7:
        given = rng.choice(GIVEN_ANY + pool) + given
    return rng.choice(SURNAMES) + given


BIRTH_START = date(1955, 1, 1)
BIRTH_DAYS = (date(2000, 12, 31) - BIRTH_START).days
JOIN_START = date(1995, 1, 1)
JOIN_DAYS = (date(2025, 6, 30) - JOIN_START).days

# title level, weight, positions at that level
TITLES: list[tuple[str, int, tuple[str, ...]]] = [
    ("senior", 20, ("教授", "研究员", "主任医师", "正高级工程师")),
    ("associate_senior", 30, ("副教授", "副研究员", "副主任医师", "高级工程师")),
    ("intermediate", 30, ("讲师", "助理研究员", "主治医师", "工程师")),
    ("junior", 15, ("助教", "研究实习员", "助理工程师")),
    ("none", 5, ("博士研究生", "硕士研究生")),
]
DEGREES = ("博士", "博士", "博士", "硕士", "硕士", "学士")
TALENT_TAGS = (
    "国家杰出青年科学基金获得者",
    "长江学者",
    "中国科学院院士",
    "中国工程院院士",
    "青年拔尖人才",
)
GRADES = (("student", 8), ("member", 62), ("senior", 20), ("fellow", 8), ("honorary", 2))
MEMBERSHIP_STATUS = (("active", 85), ("lapsed", 10), ("pending", 5))

# name, GB/T 2260 code of the workplace, e-mail domain
INSTITUTIONS: list[tuple[str, str, str]] = [
    ("清华大学", "110108", "tsinghua.edu.cn"), ("北京大学", "110108", "pku.edu.cn"),
    ("中国科学院力学研究所", "110108", "imech.ac.cn"),
    ("中国科学院计算技术研究所", "110108", "ict.ac.cn"),
    ("北京航空航天大学", "110108", "buaa.edu.cn"), ("中国农业大学", "110108", "cau.edu.cn"),
    ("北京协和医院", "110101", "pumch.cn"), ("复旦大学", "310110", "fudan.edu.cn"),
    ("上海交通大学", "310104", "sjtu.edu.cn"), ("同济大学", "310110", "tongji.edu.cn"),
    ("浙江大学", "330106", "zju.edu.cn"), ("南京大学", "320106", "nju.edu.cn"),
    ("东南大学", "320102", "seu.edu.cn"), ("中国科学技术大学", "340104", "ustc.edu.cn"),
    ("武汉大学", "420106", "whu.edu.cn"), ("华中科技大学", "420111", "hust.edu.cn"),
    ("中山大学", "440105", "sysu.edu.cn"), ("华南理工大学", "440106", "scut.edu.cn"),
    ("南方科技大学", "440305", "sustech.edu.cn"), ("四川大学", "510107", "scu.edu.cn"),
    ("西安交通大学", "610103", "xjtu.edu.cn"), ("哈尔滨工业大学", "230103", "hit.edu.cn"),
    ("吉林大学", "220104", "jlu.edu.cn"), ("南开大学", "120104", "nankai.edu.cn"),
    ("天津大学", "120104", "tju.edu.cn"), ("山东大学", "370102", "sdu.edu.cn"),
    ("厦门大学", "350203", "xmu.edu.cn"), ("兰州大学", "620102", "lzu.edu.cn"),
    ("中南大学", "430104", "csu.edu.cn"), ("华为技术有限公司", "440307", "huawei.com"),
    ("中国航天科技集团有限公司", "110108", "spacechina.com"),
    ("国家电网有限公司", "110102", "sgcc.com.cn"),
]  # fmt: skip

# --- regions and institutions of a national pool ------------------------------------------

# GB/T 2260 province prefix, full name, short name, cities: (name, district codes)
PROVINCES: list[tuple[str, str, str, tuple[tuple[str, tuple[str, ...]], ...]]] = [
    ("11", "北京市", "北京", (("北京", ("110101", "110102", "110105", "110108")),)),
    ("12", "天津市", "天津", (("天津", ("120101", "120104", "120116")),)),
    ("13", "河北省", "河北", (("石家庄", ("130102", "130104")), ("保定", ("130602",)))),
    ("14", "山西省", "山西", (("太原", ("140105", "140109")),)),
    ("15", "内蒙古自治区", "内蒙古", (("呼和浩特", ("150102", "150105")),)),
    ("21", "辽宁省", "辽宁", (("沈阳", ("210102", "210112")), ("大连", ("210204",)))),
    ("22", "吉林省", "吉林", (("长春", ("220102", "220104")),)),
    ("23", "黑龙江省", "黑龙江", (("哈尔滨", ("230102", "230103")),)),
    ("31", "上海市", "上海", (("上海", ("310104", "310110", "310112", "310115")),)),
    ("32", "江苏省", "江苏", (("南京", ("320102", "320106")), ("苏州", ("320505",)))),
    ("33", "浙江省", "浙江", (("杭州", ("330106", "330108")), ("宁波", ("330212",)))),
    ("34", "安徽省", "安徽", (("合肥", ("340104", "340111")),)),
    ("35", "福建省", "福建", (("福州", ("350102", "350104")), ("厦门", ("350203",)))),
    ("36", "江西省", "江西", (("南昌", ("360102", "360111")),)),
    ("37", "山东省", "山东", (("济南", ("370102", "370112")), ("青岛", ("370212",)))),
    ("41", "河南省", "河南", (("郑州", ("410102", "410105")),)),
    ("42", "湖北省", "湖北", (("武汉", ("420106", "420111")),)),
    ("43", "湖南省", "湖南", (("长沙", ("430102", "430104")),)),
    ("44", "广东省", "广东", (("广州", ("440105", "440106")), ("深圳", ("440304", "440305")))),
    ("45", "广西壮族自治区", "广西", (("南宁", ("450103", "450107")),)),
    ("46", "海南省", "海南", (("海口", ("460106", "460108")),)),
    ("50", "重庆市", "重庆", (("重庆", ("500106", "500108")),)),
    ("51", "四川省", "四川", (("成都", ("510104", "510107")),)),
    ("52", "贵州省", "贵州", (("贵阳", ("520102", "520111")),)),
    ("53", "云南省", "云南", (("昆明", ("530102", "530112")),)),
    ("54", "西藏自治区", "西藏", (("拉萨", ("540102",)),)),
    ("61", "陕西省", "陕西", (("西安", ("610103", "610113")),)),
    ("62", "甘肃省", "甘肃", (("兰州", ("620102", "620103")),)),
    ("63", "青海省", "青海", (("西宁", ("630102", "630104")),)),
    ("64", "宁夏回族自治区", "宁夏", (("银川", ("640104", "640106")),)),
    ("65", "新疆维吾尔自治区", "新疆", (("乌鲁木齐", ("650102", "650104")),)),
]  # fmt: skip
# Relative number of scientists and engineers working in each province.
PROVINCE_WEIGHTS = {
    "11": 10, "12": 3, "13": 3, "14": 1.5, "15": 1, "21": 3, "22": 2, "23": 2, "31": 8,
    "32": 8, "33": 6, "34": 3, "35": 2.5, "36": 1.5, "37": 5, "41": 3, "42": 5, "43": 3,
    "44": 9, "45": 1.5, "46": 0.5, "50": 2.5, "51": 4, "52": 1, "53": 1.5, "54": 0.2,
    "61": 4, "62": 1, "63": 0.3, "64": 0.3, "65": 1,
}  # fmt: skip

# name template, relative size of one such institution; {p}: province short name, {f}: full
# name, {c}: city
_PROVINCIAL = (
    ("{p}大学", 6), ("{p}师范大学", 4), ("{p}农业大学", 3), ("{p}医科大学", 3),
    ("{p}理工大学", 3), ("{p}科技大学", 3), ("{p}工业大学", 2), ("{p}中医药大学", 2),
    ("{p}财经大学", 1), ("{f}人民医院", 3), ("{p}医科大学附属第一医院", 3),
    ("{f}肿瘤医院", 1.5), ("{f}中医院", 1.5), ("{f}科学院", 2), ("{f}农业科学院", 2.5),
    ("{f}医学科学院", 1), ("{f}环境科学研究院", 1), ("{f}建筑科学研究院", 1),
    ("{f}水利水电勘测设计研究院", 1), ("{f}地质矿产勘查开发局", 1), ("{f}疾病预防控制中心", 1),
    ("{f}气象局", 0.5), ("{f}计量测试技术研究院", 0.5), ("{f}电力公司", 1.5),
)  # fmt: skip
_CITY = (
    ("{c}大学", 3), ("{c}理工学院", 1.5), ("{c}医学院", 1), ("{c}市第一人民医院", 2),
    ("{c}市中心医院", 1.5), ("{c}市农业科学研究院", 0.5), ("{c}工业技术研究院", 1),
    ("{c}市产品质量监督检验研究院", 0.3),
)  # fmt: skip
_BRANDS = (
    "华信", "中科", "天润", "恒通", "瑞达", "博创", "汇智", "金桥", "新源", "海康", "同方",
    "远景", "正泰", "鼎盛", "宏远", "星辰", "凯盛", "安泰", "思创", "云帆",
)  # fmt: skip
_INDUSTRIES = (
    "科技", "电子", "生物医药", "新材料", "智能装备", "能源", "软件", "环保", "化工",
    "通信技术", "汽车零部件", "精密仪器",
)  # fmt: skip


@dataclass(frozen=True)
class Institution:
    name: str
    region_code: str
    weight: float  # relative number of experts working there


def institution_pool(rng: random.Random, companies_per_city: int = 12) -> list[Institution]:
    """About 1,500 distinct institutions across the provinces: universities, hospitals,
    academies, institutes and companies, each sited in a district of its city."""
    found: dict[str, Institution] = {}

    def add(name: str, region: str, weight: float) -> None:
        if name not in found:
            found[name] = Institution(name, region, weight * rng.uniform(0.4, 1.6))

    for rank, (name, region, _) in enumerate(INSTITUTIONS, start=1):
        add(name, region, 60.0 / rank**0.3)
    for prefix, full, short, cities in PROVINCES:
        scale = PROVINCE_WEIGHTS[prefix] ** 0.5
        capital, districts = cities[0]
        for template, size in _PROVINCIAL:
            add(template.format(p=short, f=full, c=capital), rng.choice(districts), size * scale)
        for city, city_districts in cities:
            for template, size in _CITY:
                add(template.format(c=city), rng.choice(city_districts), size * scale)
            pairs = rng.sample(list(itertools.product(_BRANDS, _INDUSTRIES)), companies_per_city)
            for brand, industry in pairs:
                name = f"{city}{brand}{industry}有限公司"
                add(name, rng.choice(city_districts), 0.6 * scale)
    return list(found.values())


# --- disciplines and research fields ------------------------------------------------------

# GB/T 13745 first-level code, relative number of experts, research topics (most common first)
DISCIPLINES: list[tuple[str, float, tuple[str, ...]]] = [
    ("110", 3, ("偏微分方程", "概率论", "数值分析", "代数几何", "数论", "拓扑学", "组合数学",
                "动力系统", "最优化", "随机过程", "微分几何", "泛函分析")),
    ("120", 2, ("系统工程", "控制论", "信息论", "复杂网络", "系统辨识", "运筹学")),
    ("130", 3, ("计算流体力学", "固体力学", "湍流", "冲击动力学", "断裂力学", "生物力学",
                "振动控制", "多相流", "结构动力学")),
    ("140", 4, ("凝聚态物理", "量子信息", "光学", "粒子物理", "超导", "等离子体物理",
                "拓扑绝缘体", "原子分子物理", "声学", "激光物理")),
    ("150", 5, ("催化", "高分子化学", "有机合成", "电化学", "分析化学", "界面化学", "配位化学",
                "光催化", "超分子化学", "金属有机框架")),
    ("160", 0.5, ("星系形成", "射电天文", "太阳物理", "宇宙学", "引力波", "系外行星")),
    ("170", 4, ("气候变化", "遥感", "地球化学", "构造地质", "矿床学", "大气污染", "海洋环流",
                "地震学", "古生物学", "水文地质")),
    ("180", 6, ("基因调控", "蛋白质结构", "细胞凋亡", "干细胞", "代谢组学", "进化生物学",
                "动物行为", "植物生理", "合成生物学", "表观遗传", "微生物组", "神经生物学")),
    ("190", 1, ("认知神经科学", "心理健康", "发展心理学", "社会心理学", "人因工程")),
    ("210", 5, ("作物育种", "植物保护", "土壤肥料", "水稻遗传", "病虫害防治", "设施农业",
                "智慧农业", "小麦育种", "农业机械化")),
    ("220", 2, ("森林生态", "林木遗传育种", "木材科学", "森林经理", "园林植物")),
    ("230", 2, ("动物营养", "动物疫病防控", "兽医病理", "家禽育种", "饲料科学", "奶牛养殖")),
    ("240", 1, ("水产养殖", "渔业资源", "水产动物病害", "海洋牧场")),
    ("310", 4, ("免疫学", "肿瘤免疫", "病理生理学", "医学遗传学", "病原生物学", "神经科学",
                "细胞生物学", "医学影像")),
    ("320", 12, ("肿瘤学", "心血管病学", "神经病学", "呼吸病学", "消化内科", "骨科", "儿科学",
                 "妇产科学", "麻醉学", "眼科学", "急诊医学", "内分泌学", "肾脏病学",
                 "重症医学", "康复医学", "超声医学")),
    ("330", 3, ("流行病学", "公共卫生", "传染病防控", "营养与食品卫生", "环境卫生", "职业卫生",
                "卫生统计", "健康管理")),
    ("340", 0.5, ("航空医学", "航海医学", "军事预防医学", "特种环境医学")),
    ("350", 3, ("药理学", "药物化学", "药剂学", "药物递送", "天然药物化学", "药物分析",
                "临床药学")),
    ("360", 4, ("中医内科", "中西医结合", "针灸推拿", "中药学", "方剂学", "中药药理")),
    ("410", 1, ("工程热物理", "工程力学", "计量学", "标准化", "工程图学")),
    ("413", 1, ("控制工程", "系统仿真", "智能系统", "信息系统")),
    ("416", 1, ("生物医学工程", "光学工程", "纳米技术", "生物技术")),
    ("420", 1.5, ("地理信息系统", "卫星导航", "摄影测量", "大地测量", "工程测量", "激光雷达")),
    ("430", 6, ("复合材料", "纳米材料", "高分子材料", "锂离子电池", "金属材料", "能源材料",
                "二维材料", "钙钛矿", "陶瓷材料", "生物医用材料", "薄膜材料", "磁性材料")),
    ("440", 1.5, ("采矿工程", "岩石力学", "矿物加工", "煤矿安全", "矿山充填")),
    ("450", 1.5, ("钢铁冶金", "有色金属冶金", "粉末冶金", "连铸", "冶金过程控制")),
    ("460", 6, ("智能制造", "机器人", "故障诊断", "增材制造", "机械设计", "摩擦学", "数控机床",
                "精密加工", "液压传动")),
    ("470", 5, ("电力系统", "新能源并网", "电力电子", "储能", "智能电网", "高电压技术",
                "电机驱动", "配电网", "燃气轮机", "传热传质", "电力市场")),
    ("480", 3, ("氢能", "太阳能光伏", "燃料电池", "风力发电", "碳捕集", "节能技术",
                "生物质能")),
    ("490", 1, ("核反应堆", "辐射防护", "核聚变", "核燃料循环", "核医学")),
    ("510", 6, ("集成电路", "图像处理", "移动通信", "物联网", "雷达信号处理", "微波技术",
                "光纤通信", "天线", "射频电路", "卫星通信", "半导体器件")),
    ("520", 9, ("机器学习", "人工智能", "深度学习", "计算机视觉", "自然语言处理", "大数据",
                "网络安全", "数据挖掘", "分布式系统", "云计算", "知识图谱", "软件工程",
                "数据库", "推荐系统", "区块链", "高性能计算", "操作系统", "人机交互",
                "密码学", "编译器")),
    ("530", 3, ("化工过程", "反应工程", "分离工程", "精细化工", "石油化工", "煤化工",
                "膜分离")),
    ("535", 0.5, ("仪器仪表", "工业设计", "包装工程", "家电技术")),
    ("540", 1, ("纺织材料", "功能纤维", "染整技术", "服装工程")),
    ("550", 2, ("食品安全", "食品加工", "发酵工程", "食品营养", "农产品储藏")),
    ("560", 5, ("岩土工程", "桥梁工程", "结构抗震", "混凝土结构", "隧道工程", "建筑节能",
                "城市规划", "钢结构", "装配式建筑", "地下工程")),
    ("570", 2, ("水文水资源", "水工结构", "防洪减灾", "河流动力学", "农田水利")),
    ("580", 3, ("智能交通", "轨道交通", "道路工程", "自动驾驶", "交通规划", "车辆工程",
                "船舶工程", "物流工程")),
    ("590", 2.5, ("飞行器设计", "航空发动机", "空气动力学", "无人机", "导航制导与控制",
                  "航天器", "卫星遥感")),
    ("610", 4, ("水污染控制", "大气污染防治", "生态修复", "固体废物处理", "环境监测",
                "土壤修复", "碳中和", "资源循环利用", "环境规划")),
    ("620", 1, ("安全工程", "应急管理", "消防工程", "风险评估", "职业安全")),
    ("630", 3, ("技术创新管理", "管理科学", "公共管理", "供应链管理", "项目管理", "科技政策",
                "工商管理")),
    ("710", 0.3, ("马克思主义理论", "思想政治教育")),
    ("720", 0.3, ("科学哲学", "科技伦理", "逻辑学")),
    ("730", 0.1, ("宗教学理论",)),
    ("740", 0.3, ("计算语言学", "应用语言学", "汉语言文字学")),
    ("750", 0.3, ("比较文学", "现代文学")),
    ("760", 0.3, ("设计艺术", "数字媒体艺术", "音乐学")),
    ("770", 0.3, ("科学技术史", "中国近现代史")),
    ("780", 0.2, ("科技考古", "文物保护")),
    ("790", 1.5, ("产业经济学", "区域经济", "能源经济", "技术经济", "金融学", "发展经济学")),
    ("810", 0.2, ("国际关系", "公共政策")),
    ("820", 0.5, ("知识产权法", "环境法", "科技法")),
    ("830", 0.2, ("国防科技", "军事运筹")),
    ("840", 0.5, ("人口学", "社会调查", "城市社会学")),
    ("850", 0.2, ("非物质文化遗产", "民族文化")),
    ("860", 0.3, ("科学传播", "科普", "新媒体")),
    ("870", 0.5, ("科技情报", "信息检索", "文献计量")),
    ("880", 1.5, ("高等教育", "科学教育", "工程教育", "教育技术", "职业教育")),
    ("890", 1, ("运动医学", "运动训练", "运动生理学", "体育社会学")),
    ("910", 1, ("数理统计", "生物统计", "贝叶斯统计", "经济统计")),
]  # fmt: skip

# How a topic becomes a field phrase, as people write them: a few generic words ("研究",
# "技术", "系统", "方法") are very common, the rest form a long tail.
FIELD_MODIFIERS: list[tuple[str, float]] = [
    ("", 70), ("智能", 5), ("新型", 4), ("高性能", 3), ("高效", 2), ("绿色", 2), ("先进", 2),
    ("基于深度学习的", 2), ("多尺度", 1), ("复杂", 1), ("非线性", 1), ("低碳", 1),
    ("数字化", 1), ("基于大数据的", 1),
]  # fmt: skip
FIELD_SUFFIXES: list[tuple[str, float]] = [
    ("", 32), ("系统", 9), ("研究", 6), ("技术", 7), ("方法", 4), ("应用", 4), ("技术研究", 2),
    ("关键技术", 3), ("系统设计", 3), ("系统建模", 2), ("控制系统", 2), ("方法研究", 2),
    ("应用研究", 2), ("与应用", 2), ("理论", 2), ("理论与方法", 2), ("设计", 2), ("分析", 2),
    ("机理研究", 1), ("建模与仿真", 1), ("优化", 1), ("评价", 1), ("检测技术", 1), ("机制", 1),
]  # fmt: skip


def sub_codes(code: str, topics: int) -> list[str]:
    """Second-level GB/T 13745 codes of a first-level one, one per topic slot: 130 -> 13010..."""
    return [f"{code}{10 + 5 * (i % 8):02d}" for i in range(topics)]

"""The relevance corpus: hand-written target experts and a seeded background of ordinary ones.

The labelled queries (queries.py) are about the targets: the experts a committee secretary
hopes to find, and the near misses that share a word with them (a mineralogist who studies
perovskite phases, a quantum chemist, a sodium-battery physicist). The background gives the
index realistic volume and word statistics: 432 profiles across 27 first-level disciplines,
drawn from a seeded `random.Random`, so every run builds the same people. Its vocabulary
deliberately avoids the topics the queries ask about, and its names avoid the names and the
pinyin the queries look up, so the judgements in queries.py are complete: a background
expert is never relevant to a labelled query, and `test_background_stays_off_topic` checks it.

Ages, not birth dates, are fixed: a birth date is derived from the age on the day the corpus is
built, so the age filters in the queries judge the same people whenever the tests run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

from pypinyin import Style, lazy_pinyin

SIZE = 520  # targets plus background
SEED = 13745  # GB/T 13745
THU_USCC = "12100000400000624D"  # 清华大学, as the conflict rule compares institutions by USCC

# Member societies (national societies, 全国学会) whose memberships the corpus records.
SOCIETIES: dict[str, str] = {
    "CSTAM": "中国力学学会",
    "CCF": "中国计算机学会",
    "CAAI": "中国人工智能学会",
    "CCS": "中国化学会",
    "CPS": "中国物理学会",
    "CMRS": "中国材料研究学会",
    "CMA": "中华医学会",
    "CACM": "中华中医药学会",
    "CES": "中国生态学学会",
    "CSAA": "中国航空学会",
    "CSEE": "中国电机工程学会",
    "CCES": "中国土木工程学会",
    "CMS": "中国数学会",
    "CGS": "中国地质学会",
    "CSAE": "中国农学会",
    "CMES": "中国机械工程学会",
    "CIE": "中国电子学会",
    "CSSM": "中国科学学与科技政策研究会",
}

# Where each institution works (GB/T 2260); None for institutions abroad.
INSTITUTIONS: dict[str, str | None] = {
    # universities
    "清华大学": "110108",
    "清华大学航天航空学院": "110108",
    "Tsinghua University": "110108",
    "北京大学": "110108",
    "北京航空航天大学": "110108",
    "北京理工大学": "110108",
    "中国农业大学": "110108",
    "北京师范大学": "110102",
    "北京中医药大学": "110105",
    "华北电力大学": "110114",
    "中国科学院大学": "110116",
    "复旦大学": "310110",
    "同济大学": "310110",
    "上海交通大学": "310112",
    "华东师范大学": "310107",
    "浙江大学": "330106",
    "南京大学": "320113",
    "东南大学": "320102",
    "中国科学技术大学": "340104",
    "武汉大学": "420106",
    "华中科技大学": "420111",
    "中国地质大学（武汉）": "420111",
    "中山大学": "440105",
    "华南理工大学": "440106",
    "南方科技大学": "440305",
    "四川大学": "510107",
    "西南交通大学": "510106",
    "电子科技大学": "510108",
    "西安交通大学": "610103",
    "哈尔滨工业大学": "230103",
    "哈尔滨工程大学": "230103",
    "吉林大学": "220104",
    "大连理工大学": "210211",
    "山东大学": "370102",
    "厦门大学": "350203",
    "兰州大学": "620102",
    "青海大学": "630102",
    "西藏大学": "540102",
    "新疆大学": "650102",
    "中南大学": "430104",
    "湖南大学": "430104",
    "重庆大学": "500106",
    "南开大学": "120104",
    "天津大学": "120104",
    "郑州大学": "410102",
    "云南大学": "530102",
    "广西大学": "450107",
    "内蒙古大学": "150105",
    "贵州大学": "520111",
    "宁夏大学": "640104",
    "香港大学": "810000",
    "香港科技大学": "810000",
    "香港中文大学": "810000",
    "香港浸会大学": "810000",
    "澳门大学": "820000",
    # institutes of the Chinese Academy of Sciences and other academies
    "中国科学院力学研究所": "110108",
    "中国科学院物理研究所": "110108",
    "中国科学院半导体研究所": "110108",
    "中国科学院自动化研究所": "110108",
    "中国科学院化学研究所": "110108",
    "中国科学院数学与系统科学研究院": "110108",
    "中国科学院植物研究所": "110108",
    "中国科学院大气物理研究所": "110105",
    "中国科学院地质与地球物理研究所": "110105",
    "中国科学院上海有机化学研究所": "310104",
    "中国科学院大连化学物理研究所": "210204",
    "中国科学院金属研究所": "210102",
    "中国科学院宁波材料技术与工程研究所": "330211",
    "中国科学院西北高原生物研究所": "630104",
    "中国医学科学院肿瘤医院": "110105",
    "中国中医科学院": "110101",
    "中国疾病预防控制中心": "110102",
    "中国科学技术发展战略研究院": "110108",
    # hospitals
    "北京协和医院": "110101",
    "四川大学华西医院": "510107",
    "复旦大学附属中山医院": "310104",
    "中山大学肿瘤防治中心": "440104",
    "上海交通大学医学院附属瑞金医院": "310101",
    # companies
    "华为技术有限公司": "440307",
    "深圳市腾讯计算机系统有限公司": "440305",
    "中兴通讯股份有限公司": "440305",
    "比亚迪股份有限公司": "440307",
    "宁德时代新能源科技股份有限公司": "350902",
    "隆基绿能科技股份有限公司": "610116",
    "常州第六元素材料科技股份有限公司": "320412",
    "国家电网有限公司": "110102",
    "中国南方电网有限责任公司": "440106",
    "中国商用飞机有限责任公司": "310115",
    "中国航发商用航空发动机有限责任公司": "310112",
    "中国石油化工股份有限公司": "110105",
    "中国航天科技集团有限公司": "110108",
    "中国中车股份有限公司": "110108",
    "中国建筑股份有限公司": "110105",
    # abroad
    "Technische Universität München": None,
    "University of Edinburgh": None,
    "University of Oxford": None,
    "National University of Singapore": None,
    "University of Toronto": None,
    "ETH Zürich": None,
    "Kyoto University": None,
    "University of Melbourne": None,
    "Sorbonne Université": None,
    "Seoul National University": None,
}


@dataclass(frozen=True)
class Expert:
    """One profile of the corpus, addressed in the judgements by its `key`."""

    key: str
    name: str
    gender: str | None
    age: int | None
    institution: str | None
    title_level: str | None
    discipline_codes: tuple[str, ...]
    research_fields: tuple[str, ...]
    bio: str | None = None
    name_en: str | None = None
    orgs: tuple[tuple[str, str], ...] = ()  # (society code, grade)
    uscc: str | None = None
    position: str | None = None
    tags: tuple[str, ...] = ()
    origin: str = "mainland"  # region_of_origin
    nationality: str = "CN"
    target: bool = True

    @property
    def region_code(self) -> str | None:
        return INSTITUTIONS[self.institution] if self.institution else None

    def birth_date(self, today: date) -> date | None:
        """A birthday 40 to 320 days past, `age` years ago: the age is exact all year round."""
        if self.age is None:
            return None
        days = 40 + sum(map(ord, self.key)) % 280
        anniversary = today - timedelta(days=days)
        try:
            return anniversary.replace(year=anniversary.year - self.age)
        except ValueError:  # 29 February
            return anniversary.replace(year=anniversary.year - self.age, day=28)

    def person_fields(self, today: date) -> dict[str, Any]:
        """The PersonCreate body of this expert (every one opted in to the expert pool)."""
        return {
            "name": self.name,
            "name_en": self.name_en,
            "gender": self.gender,
            "birth_date": self.birth_date(today),
            "institution": self.institution,
            "institution_uscc": self.uscc,
            "region_code": self.region_code,
            "title_level": self.title_level,
            "position": self.position,
            "discipline_codes": list(self.discipline_codes),
            "research_fields": list(self.research_fields),
            "biography": self.bio,
            "talent_tags": list(self.tags),
            "region_of_origin": self.origin,
            "nationality": self.nationality,
            "expert_opt_in": True,
        }


M, F = "male", "female"
S, AS, MID, JR = "senior", "associate_senior", "intermediate", "junior"
E = Expert

# fmt: off
TARGETS: list[Expert] = [
    # -- fluid mechanics, turbulence and their neighbours ---------------------------------
    E("zhang_wei_thu", "张伟", M, 58, "清华大学", S, ("1302590",), ("计算流体力学", "湍流模拟", "大涡模拟"), bio="长期从事湍流与计算流体力学研究，发展了可压缩湍流大涡模拟方法，获国家自然科学奖二等奖。", orgs=(("CSTAM", "fellow"),), uscc=THU_USCC, position="教授", tags=("国家杰出青年科学基金获得者",)),
    E("li_na_pku", "李娜", F, 41, "北京大学", AS, ("1302535",), ("湍流理论", "壁湍流", "流动控制"), bio="研究壁湍流相干结构与减阻流动控制，是流体力学方向的青年骨干。", orgs=(("CSTAM", "member"),)),
    E("chen_hao_sjtu", "陈浩", M, 50, "上海交通大学", S, ("1302590", "59025"), ("计算流体力学", "叶轮机械气动力学", "湍流模拟"), orgs=(("CSTAM", "senior"), ("CSAA", "member"))),
    E("wang_lei_fudan", "王磊", M, 36, "复旦大学", AS, ("1302545",), ("多相流", "气泡动力学", "湍流"), bio="主要研究气液两相湍流与气泡动力学的实验和数值模拟。", orgs=(("CSTAM", "member"),)),
    E("ouyang_ming_imech", "欧阳明", M, 62, "中国科学院力学研究所", S, ("1302520",), ("高超声速空气动力学", "激波与湍流相互作用"), bio="长期从事高超声速流动与气体动力学研究。", orgs=(("CSTAM", "fellow"), ("CSAA", "fellow")), position="研究员"),
    E("zhou_min_sustech", "周敏", F, 29, "南方科技大学", JR, ("130",), ("流体", "计算", "力学教育")),
    E("anna_schmidt_tum", "Anna Schmidt", F, 50, "Technische Universität München", S, ("13025",), ("turbulence modelling", "computational fluid dynamics"), name_en="Anna Schmidt", origin="foreign", nationality="DE"),
    E("ma_jun_iap", "马骏", M, 55, "中国科学院大气物理研究所", S, ("17015",), ("大气边界层湍流", "大气污染扩散"), bio="研究城市大气边界层湍流结构与污染物扩散。"),
    E("sima_yun_xjtu", "司马云", M, 39, "西安交通大学", AS, ("47010",), ("湍流燃烧", "燃烧诊断", "燃气轮机燃烧室")),
    E("shangguan_wan_heu", "上官婉", F, 45, "哈尔滨工程大学", S, ("58050",), ("船舶水动力学", "螺旋桨空化")),
    E("huangfu_qiang_tongji", "皇甫强", M, 56, "同济大学", S, ("56030",), ("大跨度桥梁", "桥梁抗风", "风工程"), bio="长期从事桥梁风致振动与抗风设计研究，主持多座千米级斜拉桥的抗风研究。", orgs=(("CCES", "fellow"),)),
    E("liu_hui_thu_aero", "刘辉", M, 44, "清华大学航天航空学院", AS, ("1302590",), ("计算流体力学", "格子玻尔兹曼方法")),
    E("sun_qing_thu", "孙青", F, 47, "Tsinghua University", AS, ("1302590",), ("湍流模拟", "燃烧数值模拟"), name_en="Qing Sun", uscc=THU_USCC, orgs=(("CSTAM", "member"),)),
    # -- artificial intelligence ------------------------------------------------------------
    E("wang_fang_sjtu", "王芳", F, 40, "上海交通大学", S, ("5202030",), ("计算机视觉", "深度学习", "医学影像分析"), bio="研究深度学习在医学影像中的应用，开发了肺结节智能筛查系统。", orgs=(("CCF", "senior"), ("CAAI", "member"))),
    E("liu_yang_thu", "刘洋", M, 45, "清华大学", S, ("5202020",), ("自然语言处理", "机器翻译", "大语言模型"), bio="从事自然语言处理与机器翻译研究。", orgs=(("CCF", "fellow"), ("CAAI", "senior")), uscc=THU_USCC),
    E("li_ming_huawei", "李明", M, 35, "华为技术有限公司", AS, ("52020",), ("大语言模型推理优化", "分布式训练"), position="首席工程师", orgs=(("CCF", "member"),)),
    E("ouyang_xiao_casia", "欧阳晓", F, 48, "中国科学院自动化研究所", S, ("5202030",), ("模式识别", "计算机视觉", "生物特征识别"), orgs=(("CAAI", "fellow"),)),
    E("zhao_yun_tencent", "赵云", M, 31, "深圳市腾讯计算机系统有限公司", MID, ("52060",), ("推荐算法", "机器学习"), orgs=(("CCF", "member"),)),
    E("zhang_ting_zju", "张婷", F, 37, "浙江大学", AS, ("5202020",), ("自然语言处理", "知识图谱", "问答系统"), orgs=(("CCF", "member"), ("CAAI", "member"))),
    E("kevin_chan_hkust", "陈家豪", M, 52, "香港科技大学", S, ("52020",), ("machine learning", "computer vision", "robot perception"), name_en="Kevin Chan", origin="hong_kong", orgs=(("CAAI", "member"),)),
    E("david_miller_ed", "David Miller", M, 58, "University of Edinburgh", S, ("5202020",), ("natural language processing", "machine translation", "computational linguistics"), name_en="David Miller", origin="foreign", nationality="GB"),
    E("sun_liwei_whu", "孙立伟", M, 55, "武汉大学", S, ("42010",), ("遥感影像解译", "深度学习", "摄影测量")),
    E("zhou_hong_wchsu", "周红", F, 50, "四川大学华西医院", S, ("32011",), ("医学影像诊断", "人工智能辅助诊断", "胸部CT"), orgs=(("CMA", "senior"),)),
    E("he_jing_ustc", "何静", F, 33, "中国科学技术大学", MID, ("5202050",), ("机器学习理论", "统计学习")),
    # -- perovskite photovoltaics, and solar cells of other kinds ---------------------------
    E("huang_jun_nju", "黄俊", M, 44, "南京大学", S, ("43070", "48070"), ("钙钛矿太阳能电池", "光伏材料", "perovskite solar cells"), bio="致力于高效稳定钙钛矿太阳能电池研究，认证效率多次刷新世界纪录。", orgs=(("CMRS", "senior"),)),
    E("you_jing_semi", "游静", F, 42, "中国科学院半导体研究所", S, ("51030",), ("钙钛矿发光二极管", "半导体光电器件"), bio="研究钙钛矿发光二极管，也开展钙钛矿太阳能电池界面工程研究。", orgs=(("CPS", "member"),)),
    E("han_hong_hust", "韩宏", M, 60, "华中科技大学", S, ("48070",), ("介观钙钛矿太阳能电池", "印刷光伏"), orgs=(("CMRS", "fellow"),)),
    E("wu_xue_xmu", "吴雪", F, 32, "厦门大学", MID, ("15030",), ("钙钛矿材料", "激发态光物理"), orgs=(("CCS", "member"),)),
    E("oliver_grant_ox", "Oliver Grant", M, 47, "University of Oxford", S, ("14050",), ("perovskite photovoltaics", "metal halide perovskites"), name_en="Oliver Grant", origin="foreign", nationality="GB"),
    E("lu_feng_cug", "卢峰", M, 51, "中国地质大学（武汉）", S, ("17050",), ("地幔矿物学", "高压钙钛矿相变"), orgs=(("CGS", "member"),)),
    E("shen_wen_longi", "沈文", M, 45, "隆基绿能科技股份有限公司", AS, ("48070",), ("晶硅太阳能电池", "异质结电池"), position="研发总监"),
    E("ye_qing_nimte", "叶青", F, 39, "中国科学院宁波材料技术与工程研究所", S, ("43070",), ("钙钛矿/晶硅叠层太阳能电池", "薄膜光伏"), orgs=(("CMRS", "member"),)),
    E("zhou_ping_pku", "周平", F, 41, "北京大学", AS, ("15030",), ("钙钛矿太阳能电池稳定性", "有机无机杂化材料"), orgs=(("CCS", "member"),)),
    # -- batteries ---------------------------------------------------------------------------
    E("sun_hao_catl", "孙浩", M, 46, "宁德时代新能源科技股份有限公司", S, ("48040",), ("锂离子电池", "电池管理系统", "固态电解质"), position="首席科学家"),
    E("ouyang_li_thu", "欧阳立", M, 65, "清华大学", S, ("47040",), ("锂离子电池安全", "电池热失控"), bio="研究动力锂离子电池热失控机理与电池安全管理。", orgs=(("CSEE", "fellow"),)),
    E("liu_jia_iop", "刘佳", F, 34, "中国科学院物理研究所", AS, ("14050",), ("固态锂电池", "固态电解质", "锂金属负极"), orgs=(("CPS", "member"),)),
    E("chen_xi_byd", "陈曦", M, 30, "比亚迪股份有限公司", MID, ("48040",), ("动力电池", "磷酸铁锂", "电池回收")),
    E("wang_xiao_csu", "王晓", F, 52, "中南大学", S, ("450",), ("锂电正极材料", "有色金属冶金")),
    E("li_jing_fudan", "李静", F, 36, "复旦大学", AS, ("15030",), ("锂硫电池", "电化学储能"), orgs=(("CCS", "member"),)),
    E("hu_jun_iop", "胡军", M, 55, "中国科学院物理研究所", S, ("48040",), ("钠离子电池", "储能材料"), orgs=(("CPS", "senior"),)),
    # -- graphene ----------------------------------------------------------------------------
    E("liu_zhong_pku", "刘忠", M, 49, "北京大学", S, ("43010",), ("石墨烯", "二维材料", "化学气相沉积", "graphene"), orgs=(("CMRS", "senior"), ("CCS", "member"))),
    E("sarah_lee_nus", "Sarah Lee", F, 44, "National University of Singapore", S, ("14050",), ("graphene", "2D materials", "van der Waals heterostructures"), name_en="Sarah Lee", origin="foreign", nationality="SG"),
    E("dai_li_6thelement", "戴丽", F, 38, "常州第六元素材料科技股份有限公司", AS, ("43050",), ("石墨烯导热膜", "石墨烯粉体"), position="技术总监"),
    # -- the Dalian Institute of Chemical Physics, for institution queries ------------------
    E("qiu_bo_dicp", "裘波", M, 57, "中国科学院大连化学物理研究所", S, ("15030",), ("催化化学", "能源化学"), orgs=(("CCS", "fellow"),)),
    E("lin_yan_dicp", "林燕", F, 43, "中国科学院大连化学物理研究所", AS, ("48040",), ("液流电池", "储能技术")),
    E("zhu_tao_dicp", "朱涛", M, 35, "中国科学院大连化学物理研究所", MID, ("15030",), ("分子反应动力学",)),
    E("gao_ming_xmu", "高明", M, 60, "厦门大学", S, ("15030",), ("表面催化",), bio="曾在中国科学院大连化学物理研究所工作十余年，现任厦门大学教授。"),
    # -- oncology and immunotherapy ----------------------------------------------------------
    E("wang_hong_cicams", "王红", F, 50, "中国医学科学院肿瘤医院", S, ("32054",), ("肿瘤免疫治疗", "肺癌"), bio="主持多项肺癌免疫治疗临床试验。", orgs=(("CMA", "senior"),)),
    E("zhao_qian_sysucc", "赵倩", F, 38, "中山大学肿瘤防治中心", AS, ("32054",), ("CAR-T细胞治疗", "肿瘤免疫"), orgs=(("CMA", "member"),)),
    E("ma_qiang_wchsu", "马强", M, 57, "四川大学华西医院", S, ("32054",), ("免疫治疗", "消化道肿瘤"), orgs=(("CMA", "fellow"),)),
    E("lin_xiaoyan_zs", "林晓燕", F, 44, "复旦大学附属中山医院", S, ("32054",), ("肝癌", "肿瘤免疫微环境"), orgs=(("CMA", "member"),)),
    E("huang_zhi_zju", "黄志", M, 33, "浙江大学", MID, ("31041",), ("肿瘤免疫治疗", "T细胞耗竭")),
    E("qian_wei_cdc", "钱伟", M, 48, "中国疾病预防控制中心", S, ("330",), ("疫苗免疫学", "流感监测"), orgs=(("CMA", "member"),)),
    # -- traditional Chinese medicine ------------------------------------------------------
    E("zhang_zhong_cacms", "张仲", M, 63, "中国中医科学院", S, ("36010",), ("中医内科", "针灸治疗"), bio="从事针灸治疗慢性疼痛的临床研究。", orgs=(("CACM", "fellow"),)),
    E("li_shi_bucm", "李诗", F, 50, "北京中医药大学", S, ("36040",), ("中药药理学", "中药质量控制"), orgs=(("CACM", "member"),)),
    E("tu_yan_cacms", "屠燕", F, 70, "中国中医科学院", S, ("36040",), ("青蒿素", "中药化学"), bio="长期从事抗疟中药青蒿素的研究。", orgs=(("CACM", "honorary"),)),
    E("wen_kit_hkbu", "温杰", M, 46, "香港浸会大学", AS, ("36010",), ("针灸", "acupuncture", "中西医结合"), name_en="Wen Kit", origin="hong_kong"),
    # -- grassland and plateau ecology -----------------------------------------------------
    E("zhao_lei_qhu", "赵磊", M, 42, "青海大学", AS, ("21030",), ("草地生态", "高寒草甸恢复"), orgs=(("CES", "member"),)),
    E("zhang_wei_nwipb", "张薇", F, 47, "中国科学院西北高原生物研究所", S, ("18044",), ("高寒草甸生态", "碳循环"), bio="长期在青藏高原开展高寒草甸生态系统碳循环研究。", orgs=(("CES", "senior"),)),
    E("ciren_duoji_tu", "次仁多吉", M, 40, "西藏大学", AS, ("18044",), ("高原生态", "草地退化"), orgs=(("CES", "member"),)),
    E("ma_li_lzu", "马丽", F, 53, "兰州大学", S, ("18044",), ("荒漠生态", "草地生态"), orgs=(("CES", "senior"),)),
    E("li_gang_xju", "李刚", M, 49, "新疆大学", AS, ("21050",), ("盐碱地改良", "干旱区土壤")),
    # -- people the name queries look for ---------------------------------------------------
    E("zhang_wei_huawei", "张伟", M, 38, "华为技术有限公司", AS, ("51050",), ("5G通信", "无线资源管理"), orgs=(("CIE", "member"),)),
    E("zhang_wei_csu", "章维", M, 52, "中南大学", S, ("43040",), ("粉末冶金", "高温合金")),
    E("zhang_xiaoming_sdu", "张晓明", M, 45, "山东大学", S, ("11064",), ("偏微分方程数值解", "计算数学"), orgs=(("CMS", "member"),)),
    # -- quantum information -----------------------------------------------------------------
    E("pan_jian_ustc", "潘建", M, 55, "中国科学技术大学", S, ("14030",), ("量子通信", "量子纠缠", "量子密钥分发"), bio="长期从事光量子信息实验研究，实现了千公里级量子纠缠分发。", orgs=(("CPS", "fellow"),)),
    E("lu_chao_ustc", "陆超", M, 43, "中国科学技术大学", S, ("14030",), ("光量子计算", "量子信息"), orgs=(("CPS", "member"),)),
    E("wang_hao_thu", "王浩", M, 38, "清华大学", AS, ("14050",), ("超导量子比特", "量子计算"), orgs=(("CPS", "member"),)),
    E("guo_guang_ustc", "郭光", M, 80, "中国科学技术大学", S, ("14030",), ("量子光学", "量子信息"), orgs=(("CPS", "honorary"),)),
    E("lin_lin_huawei", "林琳", F, 30, "华为技术有限公司", MID, ("51050",), ("量子密钥分发", "光纤通信")),
    E("alice_wong_hku", "黄爱丽", F, 49, "香港大学", S, ("14015",), ("quantum information theory", "quantum entanglement"), name_en="Alice Wong", origin="hong_kong", orgs=(("CPS", "member"),)),
    E("yang_fan_nju", "杨帆", M, 46, "南京大学", S, ("15030",), ("量子化学计算", "分子模拟"), orgs=(("CCS", "member"),)),
    E("qian_hong_zju", "钱红", F, 39, "浙江大学", AS, ("43070",), ("量子点发光材料",)),
    # -- aerospace, railways, bridges and tunnels ------------------------------------------
    E("situ_jie_buaa", "司徒杰", M, 51, "北京航空航天大学", S, ("59025",), ("航空发动机", "燃烧室设计"), orgs=(("CSAA", "fellow"),)),
    E("xiahou_jing_comac", "夏侯静", F, 39, "中国商用飞机有限责任公司", AS, ("59015",), ("大型客机结构设计", "复合材料结构"), orgs=(("CSAA", "member"),)),
    E("zhong_hua_comac", "钟华", M, 55, "中国商用飞机有限责任公司", S, ("59010",), ("飞机总体设计", "适航审定"), orgs=(("CSAA", "senior"),)),
    E("du_juan_comac", "杜鹃", F, 33, "中国商用飞机有限责任公司", MID, ("59025",), ("航空发动机短舱", "声衬设计"), orgs=(("CSAA", "member"),)),
    E("luo_bin_aecc", "罗斌", M, 58, "中国航发商用航空发动机有限责任公司", S, ("59025",), ("航空发动机", "涡轮叶片冷却")),
    E("yuwen_tao_swjtu", "宇文涛", M, 49, "西南交通大学", S, ("58030",), ("高速铁路", "轮轨关系", "车辆动力学"), orgs=(("CCES", "member"),)),
    E("murong_xue_csu", "慕容雪", F, 41, "中南大学", AS, ("56045",), ("隧道工程", "盾构施工"), orgs=(("CCES", "member"),)),
    # -- science policy and evaluation -----------------------------------------------------
    E("wu_gang_thu", "吴刚", M, 60, "清华大学", S, ("63035",), ("科技政策", "创新管理"), uscc=THU_USCC, orgs=(("CSSM", "senior"),)),
    E("zheng_li_castd", "郑丽", F, 46, "中国科学技术发展战略研究院", S, ("63035",), ("科技评价", "科技政策"), orgs=(("CSSM", "member"),)),
    E("song_tao_ucas", "宋涛", M, 38, "中国科学院大学", AS, ("63035",), ("科研评价", "文献计量学"), bio="从事科研评价方法与文献计量指标研究。"),
    # -- power grids -------------------------------------------------------------------------
    E("shu_yin_sgcc", "舒印", M, 60, "国家电网有限公司", S, ("47040",), ("特高压输电", "电网规划"), orgs=(("CSEE", "fellow"),)),
    E("luo_min_ncepu", "罗敏", F, 43, "华北电力大学", AS, ("47040",), ("智能电网", "新能源并网"), orgs=(("CSEE", "member"),)),
    E("chen_qiang_csg", "陈强", M, 50, "中国南方电网有限责任公司", S, ("47040",), ("特高压直流输电", "柔性直流"), orgs=(("CSEE", "senior"),)),
    E("liu_xin_xjtu", "刘欣", M, 37, "西安交通大学", AS, ("47040",), ("高电压绝缘", "电力设备状态监测"), orgs=(("CSEE", "member"),)),
    E("yang_liu_seu", "杨柳", F, 35, "东南大学", MID, ("47040",), ("电力系统调度", "智能电网")),
]
# fmt: on

# -- the background ------------------------------------------------------------------------
# Per discipline: codes to draw from, research fields, the society its experts join, and
# institutions of its own (besides the general universities). None of these words is a topic
# of a labelled query (see the module docstring).
# fmt: off
BACKGROUND_FIELDS: list[tuple[tuple[str, ...], tuple[str, ...], str, tuple[str, ...]]] = [
    (("110", "11021", "11024", "11034", "11067", "11077", "1107710"), ("解析数论", "代数几何", "表示论", "低维拓扑", "随机过程", "最优化方法", "图论", "组合优化", "调和分析", "微分几何"), "CMS", ("中国科学院数学与系统科学研究院",)),
    (("130", "13015", "1301510", "13020", "13050"), ("断裂力学", "结构动力学", "振动控制", "复合材料力学", "岩土力学", "冲击动力学", "生物力学", "微纳米力学", "塑性力学"), "CSTAM", ()),
    (("140", "14020", "14050", "14055", "14065", "14070"), ("拓扑绝缘体", "强关联电子系统", "中微子物理", "核结构", "磁约束聚变", "激光等离子体", "水声学", "超声检测", "引力波探测"), "CPS", ("中国科学院物理研究所",)),
    (("150", "15015", "15020", "15025", "15045"), ("有机合成方法学", "不对称催化", "配位化学", "色谱分析", "质谱分析", "电分析化学", "高分子合成", "超分子化学", "金属有机框架"), "CCS", ("中国科学院化学研究所", "中国科学院上海有机化学研究所", "中国石油化工股份有限公司")),
    (("170", "17015", "17050", "17055", "17060"), ("数值天气预报", "气候变化", "海洋环流", "构造地质", "沉积学", "古生物学", "水文模型", "地下水", "地震学", "矿床学"), "CGS", ("中国科学院地质与地球物理研究所",)),
    (("180", "18021", "18031", "18037", "18047", "18061"), ("干细胞", "基因编辑", "表观遗传学", "神经环路", "蛋白质结构", "合成生物学", "植物发育", "微生物组", "病毒进化"), "CES", ("中国科学院植物研究所",)),
    (("210", "21030", "21040", "21060"), ("水稻育种", "小麦遗传育种", "作物栽培", "果树栽培", "设施园艺", "植物病理学", "农业害虫防治", "杂交水稻"), "CSAE", ("中国农业大学",)),
    (("220", "22010", "22040"), ("森林培育", "林木遗传育种", "森林病虫害", "木材科学"), "CSAE", ()),
    (("310", "31011", "31021"), ("病理生理学", "人体解剖学", "医学遗传学", "组织胚胎学"), "CMA", ()),
    (("320", "32021", "32024", "32027", "32031"), ("心血管介入", "冠心病", "糖尿病", "骨科微创", "神经外科", "儿童哮喘", "眼底病", "辅助生殖", "慢性肾病"), "CMA", ("北京协和医院", "四川大学华西医院", "上海交通大学医学院附属瑞金医院")),
    (("330", "33011", "33021"), ("流行病学", "营养与食品卫生", "职业卫生", "妇幼保健"), "CMA", ("中国疾病预防控制中心",)),
    (("350", "35010", "35035"), ("药物分析", "药物制剂", "新药筛选", "药物代谢"), "CCS", ()),
    (("430", "43020", "43040", "43045"), ("钛合金", "陶瓷材料", "金属腐蚀与防护", "焊接技术", "稀土功能材料", "磁性材料", "非晶合金"), "CMRS", ("中国科学院金属研究所",)),
    (("460", "46010", "46020", "46040"), ("数控机床", "工业机器人", "精密加工", "摩擦学", "机械设计", "增材制造", "液压传动"), "CMES", ("中国中车股份有限公司",)),
    (("470", "47010", "47030"), ("电机控制", "电力电子", "换热器设计", "制冷技术", "内燃机排放"), "CSEE", ()),
    (("510", "51010", "51050", "51070"), ("射频集成电路", "天线设计", "光纤传感", "卫星导航", "雷达信号处理", "毫米波器件"), "CIE", ("中兴通讯股份有限公司",)),
    (("520", "52030", "52040", "52060"), ("数据库系统", "软件工程", "编译优化", "操作系统", "信息安全", "密码学", "云计算", "区块链", "人机交互", "计算机图形学", "高性能计算"), "CCF", ("中兴通讯股份有限公司",)),
    (("560", "56025", "56035", "56055"), ("建筑结构抗震", "混凝土结构", "岩土工程", "城市规划", "建筑节能"), "CCES", ("中国建筑股份有限公司",)),
    (("570",), ("水资源管理", "泥沙运动", "大坝安全"), "CCES", ()),
    (("580", "58010", "58040", "58070"), ("交通规划", "智能交通", "道路工程", "港口工程"), "CCES", ()),
    (("590", "59020", "59035"), ("卫星轨道设计", "航天器热控", "飞行控制", "导航制导与控制", "空间机器人"), "CSAA", ("中国航天科技集团有限公司",)),
    (("610", "61020", "61030"), ("水污染控制", "固体废物处理", "环境监测", "土壤修复"), "CES", ()),
    (("630", "63040", "63045"), ("供应链管理", "公共管理", "项目管理", "人力资源管理", "物流管理"), "CSSM", ()),
    (("790", "79013", "79031"), ("宏观经济", "区域经济", "产业经济", "金融风险"), "CSSM", ()),
    (("840",), ("人口社会学", "社会保障"), "CSSM", ()),
    (("880",), ("高等教育管理", "科学教育"), "CSSM", ("北京师范大学", "华东师范大学")),
    (("910",), ("抽样调查", "统计推断", "贝叶斯统计"), "CMS", ()),
]
# fmt: on
_DISCIPLINE_WEIGHTS = (
    4,
    5,
    5,
    5,
    4,
    5,
    4,
    2,
    2,
    6,
    2,
    2,
    5,
    5,
    4,
    5,
    6,
    4,
    2,
    3,
    3,
    3,
    3,
    2,
    1,
    1,
    1,
)

BACKGROUND_FIELDS_EN = (
    "graph theory", "software engineering", "database systems", "climate dynamics",
    "organic synthesis", "structural engineering", "supply chain management", "plant breeding",
    "neuroscience", "cryptography", "seismology", "power electronics", "robotics",
    "stem cells", "epidemiology", "tribology", "coastal engineering", "econometrics",
)  # fmt: skip

UNIVERSITIES = tuple(
    name
    for name, region in INSTITUTIONS.items()
    if region and region[:2] not in ("81", "82") and name.endswith("大学")
)
ABROAD = tuple(name for name, region in INSTITUTIONS.items() if region is None)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜"
    "叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎"
    "贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
COMPOUND_SURNAMES = ("诸葛", "司马", "上官", "东方", "尉迟", "令狐")
GIVEN_MALE = "伟强磊军勇涛斌超明刚平辉鹏华飞鑫波宁凯峰健俊帆亮杰志国建文海东晨浩宇博林"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞秀玲桂英慧颖婷雪琳洁晶蕾倩瑶琴璐佳欣悦红梅莉燕萍"
HK_NAMES = (("李嘉欣", "Lee Ka Yan", F), ("梁志强", "Leung Chi Keung", M), ("黄美玲", "Wong Mei Ling", F), ("何家俊", "Ho Ka Chun", M), ("吴咏诗", "Ng Wing Sze", F))  # fmt: skip
FOREIGN_NAMES = (("Thomas Becker", M, "DE"), ("Marie Dubois", F, "FR"), ("Hiroshi Tanaka", M, "JP"), ("Emily Clarke", F, "AU"), ("Daniel Novak", M, "CA"), ("Min-jun Park", M, "KR"), ("Laura Rossi", F, "CH"), ("James Whitfield", M, "GB"))  # fmt: skip
_FOREIGN_INSTITUTIONS = {"DE": "Technische Universität München", "FR": "Sorbonne Université", "JP": "Kyoto University", "AU": "University of Melbourne", "CA": "University of Toronto", "KR": "Seoul National University", "CH": "ETH Zürich", "GB": "University of Edinburgh"}  # fmt: skip


def pinyin(name: str) -> tuple[str, ...]:
    return tuple(lazy_pinyin(name, style=Style.NORMAL, errors="ignore"))


def _clashes(name: str, taken: set[str]) -> bool:
    """A background name must not be one a query looks up, by characters or by sound."""
    if name in taken or any(t in name for t in ("欧阳", "张伟", "张薇", "章维")):
        return True
    sounds = set(pinyin(name))
    return {"zhang", "wei"} <= sounds or {"zhang", "xiao", "ming"} <= sounds or "ou" in sounds


def _title(rng: random.Random, age: int) -> str:
    if age < 32:
        return rng.choice((JR, MID, MID))
    if age < 40:
        return rng.choice((MID, AS, AS, S))
    if age < 50:
        return rng.choice((AS, S, S))
    return rng.choice((AS, S, S, S))


_BIOS = (
    "长期从事{0}研究，主持国家自然科学基金项目多项。",
    "主要研究方向为{0}与{1}，发表学术论文百余篇。",
    "在{0}领域开展系统研究，成果获省部级科技奖励。",
)
_POSITIONS = {
    S: ("教授", "研究员", "正高级工程师", "主任医师"),
    AS: ("副教授", "副研究员", "高级工程师"),
}


def _background(rng: random.Random, count: int, taken: set[str]) -> list[Expert]:
    people: list[Expert] = []
    # Hong Kong and foreign experts first: their fields are in English.
    for i, (name, name_en, gender) in enumerate(HK_NAMES):
        fields = tuple(rng.sample(BACKGROUND_FIELDS_EN, 2))
        age = rng.randint(35, 68)
        people.append(Expert(f"bg_hk{i}", name, gender, age, rng.choice(("香港大学", "香港中文大学", "香港科技大学")), _title(rng, age), (rng.choice(BACKGROUND_FIELDS[rng.randrange(len(BACKGROUND_FIELDS))][0]),), fields, name_en=name_en, origin="hong_kong", target=False))  # fmt: skip
        taken.add(name)
    for i, (name, gender, country) in enumerate(FOREIGN_NAMES):
        fields = tuple(rng.sample(BACKGROUND_FIELDS_EN, 2))
        age = rng.randint(35, 70)
        people.append(Expert(f"bg_intl{i}", name, gender, age, _FOREIGN_INSTITUTIONS[country], _title(rng, age), (rng.choice(BACKGROUND_FIELDS[rng.randrange(len(BACKGROUND_FIELDS))][0]),), fields, name_en=name, origin="foreign", nationality=country, target=False))  # fmt: skip
    while len(people) < count:
        gender = rng.choice((M, M, M, F, F))  # about 40 % women among senior scientists
        given = GIVEN_MALE if gender == M else GIVEN_FEMALE
        surname = rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.02 else None
        surname = surname or rng.choices(SURNAMES, weights=[1 / (i + 1) ** 0.6 for i in range(len(SURNAMES))])[0]  # fmt: skip
        name = surname + "".join(rng.choice(given) for _ in range(rng.choice((1, 2, 2))))
        if _clashes(name, taken):
            continue
        taken.add(name)
        codes, vocabulary, society, own = rng.choices(BACKGROUND_FIELDS, weights=_DISCIPLINE_WEIGHTS)[0]  # fmt: skip
        age = rng.randint(27, 75)
        title = _title(rng, age)
        fields = tuple(rng.sample(vocabulary, min(len(vocabulary), rng.choice((1, 2, 2, 3)))))
        institution = rng.choice(own) if own and rng.random() < 0.35 else rng.choice(UNIVERSITIES)
        disciplines = tuple(dict.fromkeys(rng.choice(codes) for _ in range(rng.choice((1, 1, 2)))))
        orgs: tuple[tuple[str, str], ...] = ()
        if rng.random() < 0.65:
            grade = rng.choices(("member", "senior", "fellow", "student"), weights=(6, 3, 1, 1))[0]
            orgs = ((society, grade),)
        bio = rng.choice(_BIOS).format(*fields, *fields) if rng.random() < 0.35 else None
        position = rng.choice(_POSITIONS[title]) if title in _POSITIONS and rng.random() < 0.5 else None  # fmt: skip
        people.append(Expert(f"bg{len(people):03d}", name, gender, age, institution, title, disciplines, fields, bio=bio, orgs=orgs, position=position, target=False))  # fmt: skip
    return people


@cache
def experts() -> tuple[Expert, ...]:
    """The whole corpus, targets first; the same people on every call and every run."""
    rng = random.Random(SEED)
    taken = {e.name for e in TARGETS}
    corpus = (*TARGETS, *_background(rng, SIZE - len(TARGETS), taken))
    keys = [e.key for e in corpus]
    assert len(set(keys)) == len(keys), "corpus keys must be unique"
    return corpus


def by_key() -> dict[str, Expert]:
    return {e.key: e for e in experts()}

"""Labelled queries over the relevance corpus, judged as a committee secretary would judge them.

Grades: 3 is exactly who the secretary asked for; 2 is clearly relevant (a good reviewer for
the topic, or the right person described in other words or another language); 1 is marginal
(acceptable further down a list: a neighbouring topic, a scattered match of the words).
Anyone not listed is not relevant (grade 0). The labels say what a secretary would expect,
not what the search returns today: an English query is judged relevant to Chinese profiles on
the same topic, and a profile that spells its field in other words still counts.

In a body, `exclude_person_ids` and `conflicts_with` name corpus keys; the test turns them
into person ids. `forbidden` lists people who must never appear (the excluded person and those
the conflict rules name).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Query:
    qid: str
    kind: str  # field, partial, english, pinyin, name, institution, filter, exclusion
    body: dict[str, Any]
    judgements: dict[str, int]
    forbidden: tuple[str, ...] = ()
    note: str = ""

    @property
    def relevant(self) -> set[str]:
        return {key for key, grade in self.judgements.items() if grade > 0}


Q = Query

# Judgements shared by several queries.
_TURBULENCE = {
    "zhang_wei_thu": 3, "li_na_pku": 3, "chen_hao_sjtu": 3, "wang_lei_fudan": 3,
    "sun_qing_thu": 3, "anna_schmidt_tum": 2, "ma_jun_iap": 2, "ouyang_ming_imech": 2,
    "sima_yun_xjtu": 2, "liu_hui_thu_aero": 1,
}  # fmt: skip
_CFD = {
    "zhang_wei_thu": 3, "chen_hao_sjtu": 3, "liu_hui_thu_aero": 3, "sun_qing_thu": 2,
    "anna_schmidt_tum": 2, "wang_lei_fudan": 2, "li_na_pku": 2, "ouyang_ming_imech": 1,
    "zhou_min_sustech": 1, "sima_yun_xjtu": 1,
}  # fmt: skip
_PEROVSKITE_PV = {
    "huang_jun_nju": 3, "han_hong_hust": 3, "ye_qing_nimte": 3, "zhou_ping_pku": 3,
    "you_jing_semi": 2, "wu_xue_xmu": 2, "oliver_grant_ox": 2, "shen_wen_longi": 1,
}  # fmt: skip
_LITHIUM_ION = {
    "sun_hao_catl": 3, "ouyang_li_thu": 3, "chen_xi_byd": 2, "liu_jia_iop": 2,
    "wang_xiao_csu": 2, "li_jing_fudan": 1, "hu_jun_iop": 1,
}  # fmt: skip
_IMMUNOTHERAPY = {
    "wang_hong_cicams": 3, "huang_zhi_zju": 3, "zhao_qian_sysucc": 3, "ma_qiang_wchsu": 3,
    "lin_xiaoyan_zs": 2,
}  # fmt: skip
_NLP = {"liu_yang_thu": 3, "zhang_ting_zju": 3, "david_miller_ed": 2, "li_ming_huawei": 1}
_ZHANG_WEI_SOUND = {
    "zhang_wei_thu": 3, "zhang_wei_huawei": 3, "zhang_wei_nwipb": 3, "zhang_wei_csu": 3,
}  # fmt: skip


def _only(judgements: dict[str, int], *keys: str) -> dict[str, int]:
    return {k: judgements[k] for k in keys}


def _without(judgements: dict[str, int], *keys: str) -> dict[str, int]:
    return {k: v for k, v in judgements.items() if k not in keys}


# fmt: off
QUERIES: list[Query] = [
    # -- research fields as Chinese phrases --------------------------------------------------
    Q("f01", "field", {"q": "计算流体力学"}, _CFD),
    Q("f02", "field", {"q": "湍流"}, _TURBULENCE),
    Q("f03", "field", {"q": "大涡模拟"}, {"zhang_wei_thu": 3, "sun_qing_thu": 1, "chen_hao_sjtu": 1}, note="large-eddy simulation: the turbulence simulators are neighbours"),
    Q("f04", "field", {"q": "钙钛矿太阳能电池"}, _PEROVSKITE_PV, note="卢峰 studies perovskite minerals: not relevant"),
    Q("f05", "field", {"q": "锂离子电池"}, _LITHIUM_ION),
    Q("f06", "field", {"q": "固态电解质"}, {"liu_jia_iop": 3, "sun_hao_catl": 3}),
    Q("f07", "field", {"q": "肿瘤免疫治疗"}, _IMMUNOTHERAPY, note="钱伟 works on vaccine immunology: not relevant"),
    Q("f08", "field", {"q": "自然语言处理"}, _NLP),
    Q("f09", "field", {"q": "计算机视觉"}, {"wang_fang_sjtu": 3, "ouyang_xiao_casia": 3, "kevin_chan_hkust": 2, "sun_liwei_whu": 1}),
    Q("f10", "field", {"q": "量子通信"}, {"pan_jian_ustc": 3, "lin_lin_huawei": 3, "lu_chao_ustc": 2, "guo_guang_ustc": 2, "alice_wong_hku": 1, "wang_hao_thu": 1}),
    Q("f11", "field", {"q": "量子计算"}, {"wang_hao_thu": 3, "lu_chao_ustc": 3, "guo_guang_ustc": 1, "pan_jian_ustc": 1, "alice_wong_hku": 1}, note="杨帆 does quantum chemistry calculations: a scattered match, not relevant"),
    Q("f12", "field", {"q": "草地生态"}, {"zhao_lei_qhu": 3, "ma_li_lzu": 3, "ciren_duoji_tu": 3, "zhang_wei_nwipb": 2}),
    Q("f13", "field", {"q": "高寒草甸"}, {"zhang_wei_nwipb": 3, "zhao_lei_qhu": 3, "ciren_duoji_tu": 1}),
    Q("f14", "field", {"q": "航空发动机"}, {"situ_jie_buaa": 3, "luo_bin_aecc": 3, "du_juan_comac": 2, "chen_hao_sjtu": 1, "sima_yun_xjtu": 1}),
    Q("f15", "field", {"q": "特高压输电"}, {"shu_yin_sgcc": 3, "chen_qiang_csg": 3, "liu_xin_xjtu": 1}),
    Q("f16", "field", {"q": "智能电网"}, {"luo_min_ncepu": 3, "yang_liu_seu": 3, "shu_yin_sgcc": 1}),
    Q("f17", "field", {"q": "针灸"}, {"zhang_zhong_cacms": 3, "wen_kit_hkbu": 3}),
    Q("f18", "field", {"q": "中药"}, {"li_shi_bucm": 3, "tu_yan_cacms": 3, "zhang_zhong_cacms": 1, "wen_kit_hkbu": 1}),
    Q("f19", "field", {"q": "知识图谱"}, {"zhang_ting_zju": 3}),
    Q("f20", "field", {"q": "石墨烯"}, {"liu_zhong_pku": 3, "dai_li_6thelement": 3, "sarah_lee_nus": 2}),
    Q("f21", "field", {"q": "科技评价"}, {"zheng_li_castd": 3, "song_tao_ucas": 2, "wu_gang_thu": 1}),
    Q("f22", "field", {"q": "机器翻译"}, {"liu_yang_thu": 3, "david_miller_ed": 2}),
    Q("f23", "field", {"q": "高速铁路"}, {"yuwen_tao_swjtu": 3}),
    Q("f24", "field", {"q": "桥梁抗风"}, {"huangfu_qiang_tongji": 3}),
    # -- partial, abbreviated and scattered words -------------------------------------------
    Q("p01", "partial", {"q": "钙钛矿电池"}, _PEROVSKITE_PV),
    Q("p02", "partial", {"q": "隧道 盾构"}, {"murong_xue_csu": 3}),
    Q("p03", "partial", {"q": "深度学习 医学影像"}, {"wang_fang_sjtu": 3, "zhou_hong_wchsu": 2}),
    Q("p04", "partial", {"q": "锂电池"}, {"sun_hao_catl": 3, "ouyang_li_thu": 3, "liu_jia_iop": 3, "chen_xi_byd": 2, "wang_xiao_csu": 2, "li_jing_fudan": 2, "hu_jun_iop": 1}, note="锂电池 is how most people write lithium battery"),
    Q("p05", "partial", {"q": "湍流 燃烧"}, {"sima_yun_xjtu": 3, "sun_qing_thu": 3}),
    Q("p06", "partial", {"q": "机器学习"}, {"zhao_yun_tencent": 3, "he_jing_ustc": 3, "kevin_chan_hkust": 2, "wang_fang_sjtu": 2, "sun_liwei_whu": 1, "ouyang_xiao_casia": 1, "liu_yang_thu": 1, "zhang_ting_zju": 1}),
    Q("p07", "partial", {"q": "流体力学"}, {"zhang_wei_thu": 3, "li_na_pku": 3, "chen_hao_sjtu": 3, "wang_lei_fudan": 3, "liu_hui_thu_aero": 3, "sun_qing_thu": 3, "ouyang_ming_imech": 3, "anna_schmidt_tum": 2, "shangguan_wan_heu": 2, "zhou_min_sustech": 1, "ma_jun_iap": 1, "sima_yun_xjtu": 1, "huangfu_qiang_tongji": 1}),
    # -- English terms -------------------------------------------------------------------------
    Q("e01", "english", {"q": "computational fluid dynamics"}, {"anna_schmidt_tum": 3, "zhang_wei_thu": 2, "chen_hao_sjtu": 2, "liu_hui_thu_aero": 2}),
    Q("e02", "english", {"q": "perovskite solar cells"}, {"huang_jun_nju": 3, "oliver_grant_ox": 3, "han_hong_hust": 2, "ye_qing_nimte": 2, "zhou_ping_pku": 2, "you_jing_semi": 1, "wu_xue_xmu": 1}),
    Q("e03", "english", {"q": "graphene"}, {"sarah_lee_nus": 3, "liu_zhong_pku": 3, "dai_li_6thelement": 2}),
    Q("e04", "english", {"q": "natural language processing"}, {"david_miller_ed": 3, "liu_yang_thu": 2, "zhang_ting_zju": 2}),
    Q("e05", "english", {"q": "machine learning"}, {"kevin_chan_hkust": 3, "zhao_yun_tencent": 2, "he_jing_ustc": 2, "wang_fang_sjtu": 1}),
    Q("e06", "english", {"q": "quantum entanglement"}, {"alice_wong_hku": 3, "pan_jian_ustc": 2}),
    Q("e07", "english", {"q": "Computer Vision"}, {"kevin_chan_hkust": 3, "wang_fang_sjtu": 2, "ouyang_xiao_casia": 2}),
    # -- names in pinyin -------------------------------------------------------------------------
    Q("n01", "pinyin", {"q": "zhang wei"}, _ZHANG_WEI_SOUND, note="张伟 (two of them), 张薇 and 章维 all sound zhang wei"),
    Q("n02", "pinyin", {"q": "zhangwei"}, _ZHANG_WEI_SOUND),
    Q("n03", "pinyin", {"q": "ouyang ming"}, {"ouyang_ming_imech": 3}, note="compound surname written as one word"),
    Q("n04", "pinyin", {"q": "zhang xiaoming"}, {"zhang_xiaoming_sdu": 3}, note="the given name written as one word, as passports do"),
    Q("n05", "pinyin", {"q": "Xiaoming Zhang"}, {"zhang_xiaoming_sdu": 3}, note="given name first, as on English papers"),
    Q("n06", "pinyin", {"q": "simayun"}, {"sima_yun_xjtu": 3}),
    # -- names as written ------------------------------------------------------------------------
    Q("c01", "name", {"q": "张伟"}, {"zhang_wei_thu": 3, "zhang_wei_huawei": 3}),
    Q("c02", "name", {"q": "欧阳"}, {"ouyang_ming_imech": 3, "ouyang_xiao_casia": 3, "ouyang_li_thu": 3}, note="a compound surname on its own"),
    Q("c03", "name", {"q": "次仁多吉"}, {"ciren_duoji_tu": 3}),
    Q("c04", "name", {"q": "张伟 湍流"}, {"zhang_wei_thu": 3}),
    Q("c05", "name", {"q": "Kevin Chan"}, {"kevin_chan_hkust": 3}),
    Q("c06", "name", {"q": "Schmidt"}, {"anna_schmidt_tum": 3}),
    Q("c07", "name", {"q": "陈家豪"}, {"kevin_chan_hkust": 3}),
    # -- institutions ------------------------------------------------------------------------------
    Q("i01", "institution", {"q": "大连化学物理研究所"}, {"qiu_bo_dicp": 3, "lin_yan_dicp": 3, "zhu_tao_dicp": 3, "gao_ming_xmu": 1}, note="高明 used to work there"),
    Q("i02", "institution", {"q": "中国科学技术大学 量子"}, {"pan_jian_ustc": 3, "lu_chao_ustc": 3, "guo_guang_ustc": 3}),
    Q("i03", "institution", {"q": "中国商用飞机"}, {"xiahou_jing_comac": 3, "zhong_hua_comac": 3, "du_juan_comac": 3}),
    Q("i04", "institution", {"q": "清华大学 锂离子电池"}, {"ouyang_li_thu": 3}),
    Q("i05", "institution", {"q": "华为 量子"}, {"lin_lin_huawei": 3}),
    # -- text with filters ---------------------------------------------------------------------------
    Q("x01", "filter", {"q": "湍流", "discipline_codes": ["130"]}, _without(_TURBULENCE, "ma_jun_iap", "sima_yun_xjtu")),
    Q("x02", "filter", {"q": "湍流", "region_codes": ["31"]}, _only(_TURBULENCE, "chen_hao_sjtu", "wang_lei_fudan")),
    Q("x03", "filter", {"q": "钙钛矿太阳能电池", "title_levels": ["senior"]}, _only(_PEROVSKITE_PV, "huang_jun_nju", "han_hong_hust", "ye_qing_nimte", "you_jing_semi", "oliver_grant_ox")),
    Q("x04", "filter", {"q": "锂离子电池", "age_max": 39}, _only(_LITHIUM_ION, "liu_jia_iop", "chen_xi_byd", "li_jing_fudan"), note="China Youth Science and Technology Award: under 40"),
    Q("x05", "filter", {"q": "肿瘤免疫治疗", "gender": "female", "age_max": 44}, _only(_IMMUNOTHERAPY, "zhao_qian_sysucc", "lin_xiaoyan_zs"), note="China Young Women Scientists Award: women under 45"),
    Q("x06", "filter", {"q": "草地生态", "region_codes": ["63"]}, {"zhao_lei_qhu": 3, "zhang_wei_nwipb": 2}),
    Q("x07", "filter", {"q": "航空发动机", "org_codes": ["CSAA"]}, {"situ_jie_buaa": 3, "du_juan_comac": 2, "chen_hao_sjtu": 1}),
    Q("x08", "filter", {"q": "量子信息", "age_min": 50}, {"guo_guang_ustc": 3, "pan_jian_ustc": 2}),
    Q("x09", "filter", {"q": "湍流", "org_codes": ["CSTAM"], "title_levels": ["senior"]}, _only(_TURBULENCE, "zhang_wei_thu", "chen_hao_sjtu", "ouyang_ming_imech")),
    Q("x10", "filter", {"q": "计算流体力学", "discipline_codes": ["1302590"]}, _only(_CFD, "zhang_wei_thu", "chen_hao_sjtu", "liu_hui_thu_aero", "sun_qing_thu")),
    Q("x11", "filter", {"q": "肿瘤免疫治疗", "region_codes": ["44", "51"]}, _only(_IMMUNOTHERAPY, "zhao_qian_sysucc", "ma_qiang_wchsu")),
    # -- exclusions and conflicts of interest ------------------------------------------------------
    Q("z01", "exclusion", {"q": "计算流体力学", "conflicts_with": "zhang_wei_thu"}, _without(_CFD, "zhang_wei_thu", "sun_qing_thu", "liu_hui_thu_aero"), forbidden=("zhang_wei_thu", "sun_qing_thu"), note="孙青 is at Tsinghua by USCC; 刘辉 is at a Tsinghua school (no USCC recorded): a secretary would exclude him too"),
    Q("z02", "exclusion", {"q": "科技政策", "exclude_person_ids": ["wu_gang_thu"]}, {"zheng_li_castd": 3}, forbidden=("wu_gang_thu",)),
    Q("z03", "exclusion", {"q": "自然语言处理", "conflicts_with": "liu_yang_thu"}, _without(_NLP, "liu_yang_thu"), forbidden=("liu_yang_thu",)),
    Q("z04", "exclusion", {"q": "量子计算", "conflicts_with": "pan_jian_ustc"}, {"wang_hao_thu": 3, "alice_wong_hku": 1}, forbidden=("pan_jian_ustc", "lu_chao_ustc", "guo_guang_ustc")),
]
# fmt: on

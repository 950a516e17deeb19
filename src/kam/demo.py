"""Demo data (`kam demo`): a believable customer archive for a Chinese B2B sales organisation.

Everything is written through the services, so the audit trail, search terms and sort keys are
exactly what real use would leave behind. The data is random but reproducible (one seed); dates
are relative to today so that "birthdays this week" and recent dynamic information show up.
The name lists here are also used by the benchmark data generator (bench/generate.py).
"""

import random
import time
from datetime import date, timedelta
from decimal import Decimal

import phonenumbers
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from pypinyin import lazy_pinyin
from stdnum.cn import uscc

from kam.accounts import services as account_services
from kam.accounts.models import (
    Account,
    AccountContact,
    Attitude,
    BuyingRole,
    Contact,
    Gender,
    Industry,
    LeadSource,
    Lifecycle,
    Ownership,
    Personality,
    ProcurementMode,
    PurchasePattern,
    TeamAccess,
    VisitorStatus,
)
from kam.accounts.names import normalize_company_name
from kam.core import regions
from kam.org import services as org_services
from kam.org.models import DataScope, DepartmentKind, Role, User

DEMO_PASSWORD = "kam-demo-2026"  # noqa: S105 - the published password of the demo logins
SEED = 20260101

# ---------------------------------------------------------------------------------------------
# reference lists (shared with bench/generate.py)


def _words(text: str) -> list[str]:
    return text.split()


# Common surnames, most frequent first (repeated entries make them more likely), a few compound.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴"
    "莫孔向汤"
)
SURNAME_WEIGHTS = [max(1, 30 - i // 3) for i in range(len(SURNAMES))]
COMPOUND_SURNAMES = ["欧阳", "司马", "上官", "诸葛", "东方", "慕容"]
MALE_GIVEN = _words(
    "伟 强 磊 军 勇 杰 涛 斌 超 明 刚 平 辉 鹏 华 飞 鑫 波 宇 浩 凯 健 俊 帆 旭 宁 龙 林 阳 峰 "
    "建国 建华 建军 志强 志明 志刚 海涛 海峰 文博 文杰 俊杰 浩然 子轩 宇航 晓东 晓明 国庆 国栋 "
    "永强 永刚 立新 立伟 德华 德明 振华 振宇 家豪 嘉伟 明轩 天佑 思远 博文 一鸣 卫东 红军 少华 "
    "春生 建平 新民 玉龙 云飞 雪松 宏伟 景行 泽民 睿哲"
)
FEMALE_GIVEN = _words(
    "芳 娜 敏 静 丽 艳 娟 霞 秀 燕 玲 婷 颖 倩 琳 雪 慧 佳 欣 悦 梅 莉 晶 洁 琴 萍 红 蕾 璐 瑶 "
    "晓燕 丽娟 雅琴 婷婷 欣怡 梦瑶 思琪 雨萱 诗涵 佳怡 晓红 秀英 桂英 玉兰 海燕 丽华 美玲 淑华 "
    "慧敏 文静 雪梅 春梅 晓丽 雅婷 静怡 紫涵 若曦 一诺 可馨 子涵 欣然 凤英 丽萍 红梅 秀兰 翠华 "
    "晓霞 宛如 清华 艺璇 书瑶 宁馨"
)

# Cities where the demo's customers sit: (city code, telephone area code, short name). One per
# province at least, so every province is represented; the big economic centres several times.
CITIES = [
    ("1101", "10", "北京"), ("1201", "22", "天津"), ("1301", "311", "石家庄"), ("1302", "315", "唐山"),
    ("1401", "351", "太原"), ("1501", "471", "呼和浩特"), ("1502", "472", "包头"), ("2101", "24", "沈阳"),
    ("2102", "411", "大连"), ("2201", "431", "长春"), ("2301", "451", "哈尔滨"), ("3101", "21", "上海"),
    ("3201", "25", "南京"), ("3202", "510", "无锡"), ("3205", "512", "苏州"), ("3206", "513", "南通"),
    ("3301", "571", "杭州"), ("3302", "574", "宁波"), ("3303", "577", "温州"), ("3401", "551", "合肥"),
    ("3501", "591", "福州"), ("3502", "592", "厦门"), ("3601", "791", "南昌"), ("3701", "531", "济南"),
    ("3702", "532", "青岛"), ("4101", "371", "郑州"), ("4201", "27", "武汉"), ("4301", "731", "长沙"),
    ("4401", "20", "广州"), ("4403", "755", "深圳"), ("4404", "756", "珠海"), ("4406", "757", "佛山"),
    ("4419", "769", "东莞"), ("4501", "771", "南宁"), ("4601", "898", "海口"), ("5001", "23", "重庆"),
    ("5101", "28", "成都"), ("5201", "851", "贵阳"), ("5301", "871", "昆明"), ("5401", "891", "拉萨"),
    ("6101", "29", "西安"), ("6201", "931", "兰州"), ("6301", "971", "西宁"), ("6401", "951", "银川"),
    ("6501", "991", "乌鲁木齐"),
]  # fmt: skip
CITY_WEIGHTS = {"1101": 8, "3101": 9, "4403": 8, "4401": 6, "3301": 6, "3201": 5, "3205": 5, "5101": 4,
                "4201": 4, "3702": 3, "3302": 3, "6101": 3, "4419": 3, "4406": 3, "5001": 3}  # fmt: skip
AREA_CODE = {code: area for code, area, _name in CITIES}

COMPANY_STEMS = _words(
    "华信 恒达 鑫源 金桥 中科 远景 天成 汇通 宏图 瑞丰 博远 嘉禾 东方 永安 新世纪 德润 聚源 启明 卓越 海纳 "
    "明珠 星辰 同创 万通 盛世 中联 长城 凯达 鼎盛 安泰 华瑞 联创 国泰 银河 锦程 信达 恒通 宏达 润泽 利丰 "
    "蓝海 云帆 智信 伟业 龙腾 九州 天宇 亿科 泰和 云峰 合力 思源 百川 新锐 精诚 华宇 明远 正源 力拓 "
    "晨光 宝丰 金鼎 通达 众诚 腾飞 弘毅 融创 浩天"
)
INDUSTRY_WORDS = {
    Industry.AGRICULTURE: ["农业科技", "生态农业", "种业", "牧业", "水产"],
    Industry.MINING: ["矿业", "煤业", "能源开发", "资源"],
    Industry.MANUFACTURING: ["机械制造", "精密机械", "电子", "汽车零部件", "新材料", "化工", "医疗器械", "电气",
                             "智能装备", "食品", "包装材料", "光电"],
    Industry.UTILITIES: ["燃气", "热力", "水务", "电力", "新能源"],
    Industry.CONSTRUCTION: ["建设工程", "建筑工程", "路桥建设", "装饰工程", "市政工程"],
    Industry.TRADE: ["贸易", "商贸", "百货", "医药连锁", "供应链管理"],
    Industry.LOGISTICS: ["物流", "供应链", "运输", "港务", "冷链物流"],
    Industry.HOSPITALITY: ["酒店管理", "餐饮管理", "国际酒店"],
    Industry.IT: ["信息技术", "软件", "网络科技", "数据科技", "智能科技", "通信技术"],
    Industry.FINANCE: ["投资管理", "融资租赁", "保险经纪", "资产管理"],
    Industry.REAL_ESTATE: ["房地产开发", "置业", "物业服务"],
    Industry.BUSINESS_SERVICES: ["企业管理咨询", "人力资源服务", "广告", "会展服务"],
    Industry.RESEARCH: ["检测技术", "技术研究院", "检验检测", "工程设计"],
    Industry.ENVIRONMENT: ["环保科技", "环境工程", "水处理技术", "园林绿化"],
    Industry.EDUCATION: ["教育科技", "职业培训"],
    Industry.HEALTH: ["医院管理", "健康管理", "医疗服务"],
    Industry.CULTURE: ["文化传媒", "影视文化", "体育发展", "文化旅游"],
    Industry.PUBLIC: ["公共服务"],
    Industry.OTHER: ["实业", "控股"],
}  # fmt: skip
INDUSTRY_EN = {
    Industry.AGRICULTURE: "Agriculture", Industry.MINING: "Mining", Industry.MANUFACTURING: "Manufacturing",
    Industry.UTILITIES: "Energy", Industry.CONSTRUCTION: "Construction", Industry.TRADE: "Trading",
    Industry.LOGISTICS: "Logistics", Industry.HOSPITALITY: "Hospitality", Industry.IT: "Technology",
    Industry.FINANCE: "Investment", Industry.REAL_ESTATE: "Real Estate", Industry.BUSINESS_SERVICES: "Consulting",
    Industry.RESEARCH: "Testing", Industry.ENVIRONMENT: "Environmental", Industry.EDUCATION: "Education",
    Industry.HEALTH: "Healthcare", Industry.CULTURE: "Media", Industry.PUBLIC: "Public Services",
    Industry.OTHER: "Industrial",
}  # fmt: skip
# Government bodies by industry (a city's bureau, hospital, school…).
GOVERNMENT_BODIES = {
    Industry.PUBLIC: ["发展和改革委员会", "财政局", "交通运输局", "公安局", "税务局", "住房和城乡建设局", "市场监督管理局",
                      "人力资源和社会保障局", "政务服务数据管理局", "应急管理局"],
    Industry.HEALTH: ["第一人民医院", "中心医院", "中医院", "妇幼保健院", "疾病预防控制中心"],
    Industry.EDUCATION: ["教育局", "第一中学", "职业技术学院", "实验小学"],
    Industry.ENVIRONMENT: ["生态环境局", "水务局", "园林绿化局"],
    Industry.CULTURE: ["图书馆", "博物馆", "体育中心"],
    Industry.RESEARCH: ["农业科学院", "产品质量监督检验研究院"],
}  # fmt: skip
FOREIGN_INDUSTRIES = [Industry.MANUFACTURING, Industry.IT, Industry.TRADE, Industry.BUSINESS_SERVICES, Industry.HEALTH]
JV_PARTNERS = ["三菱", "丰田", "博世", "松下", "日立", "三星", "飞利浦", "霍尼韦尔", "施耐德", "电装", "大金", "东芝"]
FOREIGN_BRANDS = [
    ("霍尼韦尔", "Honeywell"), ("施耐德电气", "Schneider Electric"), ("艾默生", "Emerson"),
    ("罗克韦尔自动化", "Rockwell Automation"), ("欧姆龙", "Omron"), ("基恩士", "Keyence"), ("杜邦", "DuPont"),
    ("陶氏化学", "Dow Chemical"), ("拜耳", "Bayer"), ("强生", "Johnson & Johnson"), ("雀巢", "Nestle"),
    ("联合利华", "Unilever"), ("宝洁", "Procter & Gamble"), ("戴尔", "Dell"), ("惠普", "HP"), ("思科", "Cisco"),
    ("甲骨文", "Oracle"), ("埃森哲", "Accenture"), ("ABB", "ABB"), ("阿斯利康", "AstraZeneca"),
    ("辉瑞", "Pfizer"), ("米其林", "Michelin"), ("大陆汽车", "Continental Automotive"), ("蒂森克虏伯", "thyssenkrupp"),
]  # fmt: skip
TAGS = ["世界500强", "中国500强", "上市公司", "央企", "地方国企", "外资", "合资", "政府机关", "战略客户", "重点客户",
        "潜力客户", "集采客户", "老客户", "高新技术企业", "专精特新"]  # fmt: skip

HOMETOWNS = [
    "湖南长沙", "湖南衡阳", "四川成都", "四川绵阳", "山东潍坊", "山东临沂", "浙江温州", "浙江绍兴", "河南周口", "河南南阳",
    "江苏南通", "江苏盐城", "广东潮汕", "广东梅州", "湖北黄冈", "湖北荆州", "安徽安庆", "安徽阜阳", "江西赣州", "福建泉州",
    "河北保定", "山西运城", "陕西宝鸡", "辽宁鞍山", "吉林四平", "黑龙江齐齐哈尔", "广西桂林", "重庆万州", "云南大理",
    "贵州遵义", "甘肃天水", "内蒙古赤峰", "上海", "北京", "天津",
]  # fmt: skip
INTERESTS = ["高尔夫", "钓鱼", "茶道", "书法", "摄影", "马拉松", "登山", "羽毛球", "红酒", "围棋", "读书", "自驾游",
             "网球", "太极拳", "收藏字画", "乒乓球", "游泳", "京剧", "古典音乐", "篮球", "足球", "健身", "养花", "烹饪"]  # fmt: skip
WORKING_STYLES = [
    "注重数据，喜欢书面材料，决策前要看对比表", "雷厉风行，讨厌冗长汇报，要结论先行", "重视关系，喜欢面谈和饭局",
    "谨慎保守，凡事要请示领导", "技术出身，关注方案细节和参数", "关注成本，对价格非常敏感", "看重品牌和成功案例",
    "喜欢早上沟通，下午会多", "微信回复快，电话常不接", "注重流程合规，一切按招标走",
]  # fmt: skip
FAMILY_NOTES = [
    "女儿在读高中，明年高考", "儿子在英国读研究生", "爱人在市人民医院工作", "父母在老家，每年春节回去", "刚有二胎，是个女儿",
    "爱人是中学老师", "孩子上小学三年级，周末常陪孩子上兴趣班", "母亲身体不好，常往返医院", "",
]  # fmt: skip
AUTHORITY = {
    BuyingRole.DECISION_MAKER: ["最终拍板，500万元以上项目需报董事会", "全面负责，重大采购一票否决", "审批全部采购合同"],
    BuyingRole.PURCHASER: ["审批50万元以下采购", "负责预算编制与付款审批", "组织招标、商务谈判"],
    BuyingRole.TECHNICAL: ["技术方案最终确认", "负责供应商技术评分", "制定技术规范书"],
    BuyingRole.USER: ["提出需求，参与验收", "日常使用，反馈问题"],
    BuyingRole.SUPPORTER: ["安排领导日程", "负责文件流转"],
    BuyingRole.CHAMPION: ["能提前了解招标信息", "可在内部推荐我方方案"],
    BuyingRole.OTHER: [""],
}  # fmt: skip
MOBILE_PREFIXES = ["135", "136", "137", "138", "139", "150", "151", "152", "158", "159", "182", "183", "187", "188",
                   "130", "131", "132", "155", "156", "185", "186", "133", "153", "180", "181", "189", "177", "199"]  # fmt: skip

# Positions in a buying centre: (title, department at the customer, role, influence, boss key).
# The first entry of each kind is the decision maker at the top of the tree.
POSITIONS = {
    "company": [
        ("总经理", "总经理办公室", BuyingRole.DECISION_MAKER, 5, None),
        ("采购部经理", "采购部", BuyingRole.PURCHASER, 4, 0),
        ("技术总监", "技术中心", BuyingRole.TECHNICAL, 4, 0),
        ("财务总监", "财务部", BuyingRole.PURCHASER, 4, 0),
        ("总裁办秘书", "总裁办", BuyingRole.SUPPORTER, 2, 0),
        ("信息中心主任", "信息中心", BuyingRole.TECHNICAL, 3, 0),
        ("生产部经理", "生产部", BuyingRole.USER, 3, 0),
        ("采购专员", "采购部", BuyingRole.PURCHASER, 2, 1),
        ("系统工程师", "信息中心", BuyingRole.CHAMPION, 2, 5),
        ("运营总监", "运营中心", BuyingRole.USER, 3, 0),
    ],
    "bank": [
        ("行长", "行领导", BuyingRole.DECISION_MAKER, 5, None),
        ("科技部总经理", "金融科技部", BuyingRole.TECHNICAL, 4, 0),
        ("集中采购中心主任", "集中采购中心", BuyingRole.PURCHASER, 4, 0),
        ("财务会计部总经理", "财务会计部", BuyingRole.PURCHASER, 4, 0),
        ("行长秘书", "办公室", BuyingRole.SUPPORTER, 2, 0),
        ("运营管理部总经理", "运营管理部", BuyingRole.USER, 3, 0),
        ("系统架构师", "金融科技部", BuyingRole.CHAMPION, 2, 1),
        ("采购经理", "集中采购中心", BuyingRole.PURCHASER, 2, 2),
    ],
    "government": [
        ("局长", "局领导", BuyingRole.DECISION_MAKER, 5, None),
        ("办公室主任", "办公室", BuyingRole.SUPPORTER, 3, 0),
        ("信息中心主任", "信息中心", BuyingRole.TECHNICAL, 4, 0),
        ("计划财务科科长", "计划财务科", BuyingRole.PURCHASER, 4, 0),
        ("副局长", "局领导", BuyingRole.USER, 4, 0),
        ("科员", "信息中心", BuyingRole.CHAMPION, 2, 2),
        ("采购专员", "计划财务科", BuyingRole.PURCHASER, 2, 3),
    ],
}
DECISION_MAKER_TITLES = {"company": ["总经理", "董事长", "总裁", "副总裁", "首席执行官"], "bank": ["行长", "副行长", "首席信息官"],
                         "government": ["局长", "主任", "院长"]}  # fmt: skip

UPDATE_TEXTS = [
    "客户发布年度招标计划，预计第三季度启动集中采购。",
    "新任首席信息官到岗，原分管领导调任集团总部。",
    "客户完成新一轮融资，计划扩建华东生产基地。",
    "竞争对手在客户处开展免费试点，需关注。",
    "客户年度预算获批，信息化投入较去年增长约20%。",
    "客户组织架构调整，采购职能并入财务共享中心。",
    "客户上市申请获受理，对供应商资质要求提高。",
    "客户发生安全事故，相关项目暂缓。",
    "客户与我方签署战略合作备忘录。",
    "客户新厂区一期工程竣工，二期设备采购在即。",
    "客户主要负责人在行业峰会上提到数字化转型规划。",
    "客户拖欠部分供应商货款，注意回款风险。",
]
VISITOR_FEATURES = ["戴眼镜，四十岁左右，说话带湖南口音", "年轻女士，很干练，带着笔记本电脑", "穿西装，开一辆黑色奥迪",
                    "两人同行，一位技术一位采购", "中年男士，对价格问得很细", "自称朋友介绍，留了名片"]  # fmt: skip
VISITOR_INTENTIONS = ["咨询视频会议系统，预算约50万", "想了解设备租赁方案", "明年新建机房，想先看看方案",
                      "替换现有供应商，要求三周内报价", "参加展会后来访，了解产品线", "希望做代理，询问渠道政策"]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# well-known companies: head offices with their branches, and others


def _known(name, short, en, industry, ownership, district, website="", tags=(), branches=(), employees=None,
           revenue=None):  # fmt: skip
    return {"name": name, "short": list(short), "en": en, "industry": industry, "ownership": ownership,
            "district": district, "website": website, "tags": list(tags), "branches": list(branches),
            "employees": employees, "revenue": revenue}  # fmt: skip


KNOWN_ACCOUNTS = [
    _known("中国建设银行股份有限公司", ["建行", "建设银行", "CCB"], "China Construction Bank Corporation", Industry.FINANCE,
           Ownership.LISTED, "110102", "https://www.ccb.com", ["世界500强", "上市公司", "央企", "战略客户"],
           [("北京市分行", "110102"), ("上海市分行", "310115"), ("广东省分行", "440104"), ("深圳市分行", "440304"),
            ("江苏省分行", "320106"), ("浙江省分行", "330106")], 370000, 8_000_000_000_00),
    _known("中国工商银行股份有限公司", ["工行", "工商银行", "ICBC"], "Industrial and Commercial Bank of China Limited",
           Industry.FINANCE, Ownership.LISTED, "110102", "https://www.icbc.com.cn", ["世界500强", "上市公司", "央企", "战略客户"],
           [("北京市分行", "110102"), ("上海市分行", "310115"), ("广东省分行", "440104"), ("天津市分行", "120101")],
           420000, 9_000_000_000_00),
    _known("中国银行股份有限公司", ["中行", "中国银行", "BOC"], "Bank of China Limited", Industry.FINANCE, Ownership.LISTED, "110102",
           "https://www.boc.cn", ["世界500强", "上市公司", "央企"],
           [("上海市分行", "310115"), ("广东省分行", "440104"), ("深圳市分行", "440304"), ("山东省分行", "370102")],
           300000, 6_000_000_000_00),
    _known("中国农业银行股份有限公司", ["农行", "农业银行", "ABC"], "Agricultural Bank of China Limited", Industry.FINANCE,
           Ownership.LISTED, "110101", "https://www.abchina.com", ["世界500强", "上市公司", "央企"],
           [("上海市分行", "310115"), ("浙江省分行", "330106"), ("四川省分行", "510104")], 450000, 7_000_000_000_00),
    _known("招商银行股份有限公司", ["招行", "招商银行", "CMB"], "China Merchants Bank Co., Ltd.", Industry.FINANCE, Ownership.LISTED,
           "440304", "https://www.cmbchina.com", ["世界500强", "上市公司", "重点客户"],
           [("北京分行", "110105"), ("上海分行", "310115"), ("杭州分行", "330106"), ("南京分行", "320106")],
           110000, 3_300_000_000_00),
    _known("中国移动通信集团有限公司", ["中国移动", "移动", "China Mobile"], "China Mobile Communications Group Co., Ltd.",
           Industry.IT, Ownership.STATE_OWNED, "110102", "https://www.10086.cn", ["世界500强", "央企", "战略客户"],
           [("中国移动通信集团广东有限公司", "440106", "广东移动", "China Mobile Guangdong"),
            ("中国移动通信集团浙江有限公司", "330106", "浙江移动", "China Mobile Zhejiang"),
            ("中国移动通信集团江苏有限公司", "320105", "江苏移动", "China Mobile Jiangsu")], 450000,
           10_000_000_000_00),
    _known("国家电网有限公司", ["国网", "国家电网", "State Grid"], "State Grid Corporation of China", Industry.UTILITIES,
           Ownership.STATE_OWNED, "110102", "http://www.sgcc.com.cn", ["世界500强", "央企", "集采客户"],
           [("国网上海市电力公司", "310115", "国网上海电力", "State Grid Shanghai Municipal Electric Power Company"),
            ("国网江苏省电力有限公司", "320104", "国网江苏电力", "State Grid Jiangsu Electric Power Co., Ltd."),
            ("国网北京市电力公司", "110102", "国网北京电力", "State Grid Beijing Electric Power Company")], 870000,
           35_000_000_000_00),
    _known("中国石油化工股份有限公司", ["中石化", "中国石化", "Sinopec"], "China Petroleum & Chemical Corporation",
           Industry.MANUFACTURING, Ownership.LISTED, "110105", "http://www.sinopec.com", ["世界500强", "上市公司", "央企"],
           [("中国石油化工股份有限公司广东石油分公司", "440104", "广东石油", "Sinopec Guangdong Petroleum Branch"),
            ("中国石油化工股份有限公司上海石油分公司", "310104", "上海石油", "Sinopec Shanghai Petroleum Branch")],
           380000, 32_000_000_000_00),
    _known("华为技术有限公司", ["华为", "Huawei"], "Huawei Technologies Co., Ltd.", Industry.IT, Ownership.PRIVATE, "440307",
           "https://www.huawei.com", ["世界500强", "战略客户", "高新技术企业"], [], 207000, 7_000_000_000_00),
    _known("腾讯科技（深圳）有限公司", ["腾讯", "Tencent"], "Tencent Technology (Shenzhen) Company Limited", Industry.IT,
           Ownership.LISTED, "440305", "https://www.tencent.com", ["世界500强", "上市公司"], [], 105000, 6_000_000_000_00),
    _known("阿里巴巴（中国）有限公司", ["阿里巴巴", "阿里", "Alibaba"], "Alibaba (China) Co., Ltd.", Industry.IT, Ownership.LISTED,
           "330110", "https://www.alibaba.com", ["世界500强", "上市公司"], [], 200000, 9_000_000_000_00),
    _known("北京京东世纪贸易有限公司", ["京东", "JD"], "Beijing Jingdong Century Trading Co., Ltd.", Industry.TRADE, Ownership.LISTED,
           "110115", "https://www.jd.com", ["世界500强", "上市公司"], [], 450000, 10_000_000_000_00),
    _known("小米科技有限责任公司", ["小米", "Xiaomi"], "Xiaomi Inc.", Industry.MANUFACTURING, Ownership.LISTED, "110108",
           "https://www.mi.com", ["世界500强", "上市公司"], [], 33000, 2_700_000_000_00),
    _known("北京字节跳动科技有限公司", ["字节跳动", "字节", "ByteDance"], "Beijing ByteDance Technology Co., Ltd.", Industry.IT,
           Ownership.PRIVATE, "110108", "https://www.bytedance.com", ["潜力客户"], [], 110000, 5_000_000_000_00),
    _known("顺丰速运有限公司", ["顺丰", "SF Express"], "SF Express Co., Ltd.", Industry.LOGISTICS, Ownership.LISTED, "440306",
           "https://www.sf-express.com", ["世界500强", "上市公司"], [], 160000, 2_500_000_000_00),
    _known("比亚迪股份有限公司", ["比亚迪", "BYD"], "BYD Company Limited", Industry.MANUFACTURING, Ownership.LISTED, "440310",
           "https://www.byd.com", ["世界500强", "上市公司", "重点客户"], [], 700000, 6_000_000_000_00),
    _known("美的集团股份有限公司", ["美的", "Midea"], "Midea Group Co., Ltd.", Industry.MANUFACTURING, Ownership.LISTED, "440606",
           "https://www.midea.com", ["世界500强", "上市公司"], [], 190000, 3_700_000_000_00),
    _known("珠海格力电器股份有限公司", ["格力", "Gree"], "Gree Electric Appliances, Inc. of Zhuhai", Industry.MANUFACTURING,
           Ownership.LISTED, "440402", "https://www.gree.com", ["上市公司", "中国500强"], [], 72000, 1_900_000_000_00),
    _known("海尔智家股份有限公司", ["海尔", "Haier"], "Haier Smart Home Co., Ltd.", Industry.MANUFACTURING, Ownership.LISTED, "370212",
           "https://www.haier.com", ["上市公司", "世界500强"], [], 110000, 2_600_000_000_00),
    _known("宁德时代新能源科技股份有限公司", ["宁德时代", "CATL"], "Contemporary Amperex Technology Co., Limited",
           Industry.MANUFACTURING, Ownership.LISTED, "350902", "https://www.catl.com", ["上市公司", "世界500强", "重点客户"], [],
           120000, 3_600_000_000_00),
    _known("万科企业股份有限公司", ["万科", "Vanke"], "China Vanke Co., Ltd.", Industry.REAL_ESTATE, Ownership.LISTED, "440308",
           "https://www.vanke.com", ["上市公司", "世界500强"], [], 130000, 4_600_000_000_00),
    _known("贵州茅台酒股份有限公司", ["茅台", "Moutai"], "Kweichow Moutai Co., Ltd.", Industry.MANUFACTURING, Ownership.LISTED, "520382",
           "https://www.moutaichina.com", ["上市公司", "地方国企"], [], 33000, 1_500_000_000_00),
    _known("中国建筑股份有限公司", ["中建", "中国建筑", "CSCEC"], "China State Construction Engineering Corporation Limited",
           Industry.CONSTRUCTION, Ownership.STATE_OWNED, "110108", "https://www.cscec.com", ["世界500强", "央企"], [], 380000,
           22_000_000_000_00),
    _known("中国中铁股份有限公司", ["中国中铁", "中铁", "CREC"], "China Railway Group Limited", Industry.CONSTRUCTION,
           Ownership.STATE_OWNED, "110106", "https://www.crec.cn", ["世界500强", "央企", "集采客户"], [], 290000,
           12_000_000_000_00),
    _known("中国南方航空股份有限公司", ["南航", "南方航空"], "China Southern Airlines Company Limited", Industry.LOGISTICS,
           Ownership.LISTED, "440111", "https://www.csair.com", ["上市公司", "央企"], [], 100000, 1_600_000_000_00),
    _known("中国东方航空股份有限公司", ["东航", "东方航空"], "China Eastern Airlines Corporation Limited", Industry.LOGISTICS,
           Ownership.LISTED, "310115", "https://www.ceair.com", ["上市公司", "央企"], [], 80000, 1_100_000_000_00),
    _known("上海汽车集团股份有限公司", ["上汽", "上汽集团", "SAIC"], "SAIC Motor Corporation Limited", Industry.MANUFACTURING,
           Ownership.LISTED, "310101", "https://www.saicmotor.com", ["世界500强", "上市公司", "地方国企"], [], 200000,
           7_400_000_000_00),
    _known("一汽-大众汽车有限公司", ["一汽-大众", "一汽大众"], "FAW-Volkswagen Automotive Co., Ltd.", Industry.MANUFACTURING,
           Ownership.JOINT_VENTURE, "220106", "https://www.faw-vw.com", ["合资", "重点客户"], [], 40000, 4_000_000_000_00),
    _known("上汽大众汽车有限公司", ["上汽大众"], "SAIC Volkswagen Automotive Co., Ltd.", Industry.MANUFACTURING, Ownership.JOINT_VENTURE,
           "310114", "https://www.csvw.com", ["合资"], [], 30000, 2_000_000_000_00),
    _known("华晨宝马汽车有限公司", ["华晨宝马", "BMW Brilliance"], "BMW Brilliance Automotive Ltd.", Industry.MANUFACTURING,
           Ownership.JOINT_VENTURE, "210104", "https://www.bmw-brilliance.cn", ["合资"], [], 26000, 3_000_000_000_00),
    _known("广汽丰田汽车有限公司", ["广汽丰田", "GTMC"], "GAC Toyota Motor Co., Ltd.", Industry.MANUFACTURING, Ownership.JOINT_VENTURE,
           "440115", "https://www.gac-toyota.com.cn", ["合资"], [], 17000, 1_200_000_000_00),
    _known("西门子（中国）有限公司", ["西门子", "Siemens"], "Siemens Ltd., China", Industry.MANUFACTURING, Ownership.FOREIGN, "110105",
           "https://www.siemens.com.cn", ["外资", "世界500强"], [], 30000, 800_000_000_00),
    _known("博世（中国）投资有限公司", ["博世", "Bosch"], "Bosch (China) Investment Ltd.", Industry.MANUFACTURING, Ownership.FOREIGN,
           "310105", "https://www.bosch.com.cn", ["外资", "世界500强"], [], 55000, 1_300_000_000_00),
    _known("巴斯夫（中国）有限公司", ["巴斯夫", "BASF"], "BASF (China) Company Limited", Industry.MANUFACTURING, Ownership.FOREIGN,
           "310115", "https://www.basf.com/cn", ["外资", "世界500强"], [], 11000, 600_000_000_00),
    _known("联想（北京）有限公司", ["联想", "Lenovo"], "Lenovo (Beijing) Limited", Industry.IT, Ownership.LISTED, "110108",
           "https://www.lenovo.com.cn", ["上市公司", "世界500强"], [], 77000, 4_000_000_000_00),
    _known("中兴通讯股份有限公司", ["中兴", "ZTE"], "ZTE Corporation", Industry.IT, Ownership.LISTED, "440305", "https://www.zte.com.cn",
           ["上市公司", "高新技术企业"], [], 72000, 1_200_000_000_00),
    _known("科大讯飞股份有限公司", ["讯飞", "科大讯飞", "iFLYTEK"], "iFLYTEK Co., Ltd.", Industry.IT, Ownership.LISTED, "340104",
           "https://www.iflytek.com", ["上市公司", "高新技术企业"], [], 16000, 200_000_000_00),
    _known("杭州海康威视数字技术股份有限公司", ["海康威视", "海康", "Hikvision"], "Hangzhou Hikvision Digital Technology Co., Ltd.",
           Industry.IT, Ownership.LISTED, "330108", "https://www.hikvision.com", ["上市公司", "高新技术企业"], [], 58000,
           900_000_000_00),
    _known("上海市第一人民医院", ["市一医院"], "Shanghai General Hospital", Industry.HEALTH, Ownership.GOVERNMENT, "310106", "", ["政府机关"],
           [], 4500, 60_000_000_00),
    _known("浙江大学", ["浙大", "ZJU"], "Zhejiang University", Industry.EDUCATION, Ownership.GOVERNMENT, "330106",
           "https://www.zju.edu.cn", ["政府机关"], [], 9000, 250_000_000_00),
    _known("清华大学", ["清华", "Tsinghua"], "Tsinghua University", Industry.EDUCATION, Ownership.GOVERNMENT, "110108",
           "https://www.tsinghua.edu.cn", ["政府机关"], [], 16000, 350_000_000_00),
    _known("深圳市交通运输局", [], "", Industry.PUBLIC, Ownership.GOVERNMENT, "440304", "", ["政府机关"], [], 1200, None),
    _known("上海市浦东新区财政局", [], "", Industry.PUBLIC, Ownership.GOVERNMENT, "310115", "", ["政府机关"], [], 300, None),
    _known("广州地铁集团有限公司", ["广州地铁"], "Guangzhou Metro Group Co., Ltd.", Industry.LOGISTICS, Ownership.STATE_OWNED, "440105",
           "https://www.gzmtr.com", ["地方国企", "集采客户"], [], 33000, 300_000_000_00),
    _known("中国人民财产保险股份有限公司", ["人保财险", "PICC"], "PICC Property and Casualty Company Limited", Industry.FINANCE,
           Ownership.LISTED, "110102", "https://www.epicc.com.cn", ["上市公司", "央企"], [], 170000, 4_500_000_000_00),
    _known("中粮集团有限公司", ["中粮", "COFCO"], "COFCO Corporation", Industry.TRADE, Ownership.STATE_OWNED, "110105",
           "https://www.cofco.com", ["世界500强", "央企"], [], 110000, 7_000_000_000_00),
    _known("华润万家有限公司", ["华润万家"], "China Resources Vanguard Co., Ltd.", Industry.TRADE, Ownership.STATE_OWNED, "440303",
           "https://www.crv.com.cn", ["央企"], [], 100000, 1_000_000_000_00),
    _known("携程计算机技术（上海）有限公司", ["携程", "Trip.com"], "Ctrip Computer Technology (Shanghai) Co., Ltd.",
           Industry.HOSPITALITY, Ownership.LISTED, "310105", "https://www.ctrip.com", ["上市公司"], [], 36000, 400_000_000_00),
    _known("锦江国际（集团）有限公司", ["锦江"], "Jin Jiang International Holdings Co., Ltd.", Industry.HOSPITALITY,
           Ownership.STATE_OWNED, "310101", "https://www.jinjiang.com", ["地方国企"], [], 50000, 300_000_000_00),
    _known("北大荒农垦集团有限公司", ["北大荒"], "Beidahuang Group", Industry.AGRICULTURE, Ownership.STATE_OWNED, "230103", "",
           ["地方国企"], [], 300000, 1_600_000_000_00),
    _known("牧原食品股份有限公司", ["牧原"], "Muyuan Foods Co., Ltd.", Industry.AGRICULTURE, Ownership.LISTED, "411303",
           "https://www.muyuanfoods.com", ["上市公司"], [], 140000, 1_200_000_000_00),
    _known("中国神华能源股份有限公司", ["中国神华", "神华"], "China Shenhua Energy Company Limited", Industry.MINING, Ownership.LISTED,
           "110101", "https://www.csec.com", ["上市公司", "央企"], [], 80000, 3_400_000_000_00),
    _known("紫金矿业集团股份有限公司", ["紫金矿业", "紫金"], "Zijin Mining Group Co., Ltd.", Industry.MINING, Ownership.LISTED, "350823",
           "https://www.zjky.cn", ["上市公司", "世界500强"], [], 48000, 2_900_000_000_00),
    _known("中国科学院计算技术研究所", ["中科院计算所", "计算所"], "Institute of Computing Technology, CAS", Industry.RESEARCH,
           Ownership.GOVERNMENT, "110108", "https://www.ict.ac.cn", ["政府机关"], [], 1500, 30_000_000_00),
    _known("北控水务（中国）投资有限公司", ["北控水务"], "Beijing Enterprises Water (China) Investment Co., Ltd.",
           Industry.ENVIRONMENT, Ownership.STATE_OWNED, "110105", "https://www.bewg.net", ["地方国企"], [], 20000, 240_000_000_00),
    _known("中国国际技术智力合作集团有限公司", ["中智", "CIIC"], "China International Intellectech Group Co., Ltd.",
           Industry.BUSINESS_SERVICES, Ownership.STATE_OWNED, "110101", "https://www.ciic.com.cn", ["央企"], [], 6000,
           1_500_000_000_00),
    _known("华谊兄弟传媒股份有限公司", ["华谊兄弟", "华谊"], "Huayi Brothers Media Corporation", Industry.CULTURE, Ownership.LISTED,
           "110105", "https://www.huayimedia.com", ["上市公司"], [], 1500, 10_000_000_00),
    _known("新东方教育科技集团有限公司", ["新东方", "New Oriental"], "New Oriental Education & Technology Group", Industry.EDUCATION,
           Ownership.LISTED, "110108", "https://www.xdf.cn", ["上市公司"], [], 70000, 300_000_000_00),
    _known("正泰集团股份有限公司", ["正泰", "CHINT"], "CHINT Group Co., Ltd.", Industry.MANUFACTURING, Ownership.PRIVATE, "330382",
           "https://www.chint.com", ["中国500强", "专精特新"], [], 40000, 1_500_000_000_00),
]  # fmt: skip

# Who covers which provinces: the three branches of the demo company.
BRANCH_PROVINCES = {
    "华东": {"31", "32", "33", "34", "35", "36", "37"},
    "华南": {"42", "43", "44", "45", "46", "50", "51", "52", "53"},
    "华北": {"11", "12", "13", "14", "15", "21", "22", "23", "41", "54", "61", "62", "63", "64", "65"},
}

# The demo users: (username, display name, role, department key, data scope or None for the default).
USERS = [
    ("admin", "系统管理员", Role.ADMIN, "company", None),
    ("liuzong", "刘建华", Role.EXECUTIVE, "company", None),
    ("qianfang", "钱芳", Role.FINANCE, "company", None),
    ("hejing", "何静", Role.SERVICE, "华东", None),
    ("chenjianguo", "陈建国", Role.KA_HEAD, "华东/ka", None),
    ("huangzhiqiang", "黄志强", Role.KA_HEAD, "华南/ka", None),
    ("guotao", "郭涛", Role.KA_HEAD, "华北/ka", None),
    ("lina", "李娜", Role.KA_MANAGER, "华东/1", None),
    ("wangwei", "王伟", Role.KA_MANAGER, "华东/1", None),
    ("sunli", "孙丽", Role.KA_MANAGER, "华东/2", None),
    ("zhoumin", "周敏", Role.KA_MANAGER, "华东/2", DataScope.DEPARTMENT),
    ("zhaoqiang", "赵强", Role.KA_MANAGER, "华南/1", None),
    ("linxiaoyan", "林晓燕", Role.KA_MANAGER, "华南/1", None),
    ("wulei", "吴磊", Role.KA_MANAGER, "华南/2", None),
    ("chenjing", "陈静", Role.KA_MANAGER, "华南/2", None),
    ("zhangmin", "张敏", Role.KA_MANAGER, "华北/1", None),
    ("liuyang", "刘洋", Role.KA_MANAGER, "华北/1", None),
    ("yangfan", "杨帆", Role.KA_MANAGER, "华北/2", None),
    ("majun", "马俊", Role.KA_MANAGER, "华北/2", None),
]

GENERATED_ACCOUNTS = 260
OWNERSHIP_WEIGHTS = {
    Ownership.PRIVATE: 40, Ownership.STATE_OWNED: 18, Ownership.LISTED: 14, Ownership.JOINT_VENTURE: 8,
    Ownership.FOREIGN: 8, Ownership.GOVERNMENT: 12,
}  # fmt: skip
LIFECYCLE_WEIGHTS = {Lifecycle.CUSTOMER: 50, Lifecycle.PROSPECT: 30, Lifecycle.DORMANT: 12, Lifecycle.LOST: 8}


# ---------------------------------------------------------------------------------------------
# generators of single values


def person_name(rng: random.Random, gender: str) -> str:
    surname = rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.01 else rng.choices(SURNAMES, SURNAME_WEIGHTS)[0]
    return surname + rng.choice(MALE_GIVEN if gender == Gender.MALE else FEMALE_GIVEN)


def organization_code(rng: random.Random) -> str:
    """A 9-character organization code with its GB 11714 check character."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = (
        "MA" + "".join(rng.choice(alphabet) for _ in range(6)) if rng.random() < 0.5 else f"{rng.randrange(10**8):08d}"
    )
    total = sum(
        (int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)
    )
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def credit_code(rng: random.Random, district: str, ownership: str, industry: str) -> str:
    """A unified social credit code (GB 32100-2015) registered in `district`, with a correct check character."""
    # 91: an enterprise registered by market regulation; government bodies are registered by the
    # staffing office: 11 for an organ of government, 12 for a public institution (hospital, school).
    prefix = "91"
    if ownership == Ownership.GOVERNMENT:
        prefix = "11" if industry == Industry.PUBLIC else "12"
    body = prefix + district[:6] + organization_code(rng)  # towns (东莞) have longer codes
    return body + uscc.calc_check_digit(body)


def _valid_phone(number: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, "CN"))
    except phonenumbers.NumberParseException:
        return False


def landline(rng: random.Random, city: str) -> str:
    """A fixed-line number in the city's area code, E.164."""
    area = AREA_CODE.get(city, "10")
    while True:
        digits = 8 if len(area) == 2 or rng.random() < 0.8 else 7
        number = f"+86{area}{rng.choice('2345678')}{rng.randrange(10 ** (digits - 1)):0{digits - 1}d}"
        if _valid_phone(number):
            return number


def mobile(rng: random.Random) -> str:
    while True:
        number = f"+86{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"
        if _valid_phone(number):
            return number


def pinyin(text: str) -> str:
    return "".join(lazy_pinyin(text))


def _districts(city: str) -> list[str]:
    return [code for code, name in regions.children(city) if name not in ("市辖区", "县")]


def _region(district: str) -> dict:
    return {"province": district[:2], "city": district[:4], "district": district}


def _unique(taken: set, make):
    for _attempt in range(1000):
        value = make()
        if value not in taken:
            taken.add(value)
            return value
    raise RuntimeError("could not find a unique value")  # only if the lists above became far too short


# ---------------------------------------------------------------------------------------------
# the loader


class _Demo:
    """One demo load: random source, what has been taken (codes, phones, names), what was made."""

    def __init__(self, stdout):
        self.out = stdout
        self.rng = random.Random(SEED)
        self.today = timezone.localdate()
        self.codes: set[str] = set()
        self.phones: set[str] = set()
        self.mobiles: set[str] = set()
        self.names: set[str] = set()
        self.departments: dict[str, object] = {}
        self.users: dict[str, User] = {}
        self.accounts: list[Account] = []

    # organisation ---------------------------------------------------------------------------

    def organisation(self) -> None:
        mk = org_services.department_create
        company = mk(actor=None, name="总公司", kind=DepartmentKind.COMPANY)
        self.departments["company"] = company
        for region in BRANCH_PROVINCES:
            branch = mk(actor=None, name=f"{region}分公司", kind=DepartmentKind.BRANCH, parent=company)
            ka = mk(actor=None, name=f"{region}大客户部", kind=DepartmentKind.KA_DEPARTMENT, parent=branch)
            self.departments[region] = branch
            self.departments[f"{region}/ka"] = ka
            for number, team_name in (("1", "一组"), ("2", "二组")):
                self.departments[f"{region}/{number}"] = mk(
                    actor=None, name=team_name, kind=DepartmentKind.TEAM, parent=ka
                )
        admin = None
        for username, display_name, role, department, scope in USERS:
            validate_password(DEMO_PASSWORD, User(username=username, display_name=display_name))
            user = org_services.user_create(
                actor=admin, username=username, password=DEMO_PASSWORD, role=role,
                department=self.departments[department], data_scope=scope, display_name=display_name,
                email=f"{username}@kam-demo.cn",
            )  # fmt: skip
            admin = admin or user
            self.users[username] = user

    def owners_for(self, province: str) -> list[User]:
        region = next((r for r, provinces in BRANCH_PROVINCES.items() if province in provinces), "华北")
        return [u for u in self.users.values() if u.role == Role.KA_MANAGER and u.department.name in ("一组", "二组")
                and u.department.parent_id == self.departments[f"{region}/ka"].pk]  # fmt: skip

    def pick_owner(self, province: str) -> User:
        region = next((r for r, provinces in BRANCH_PROVINCES.items() if province in provinces), "华北")
        if self.rng.random() < 0.06:
            return next(
                u for u in self.users.values() if u.role == Role.KA_HEAD and u.department.name == f"{region}大客户部"
            )
        return self.rng.choice(self.owners_for(province))

    # accounts -------------------------------------------------------------------------------

    def account(self, *, name, district, industry, ownership, short=(), name_en="", website="", tags=(),
                parent=None, employees=None, revenue=None, owner=None) -> Account:  # fmt: skip
        rng = self.rng
        region = _region(district)
        owner = owner or self.pick_owner(region["province"])
        lifecycle = rng.choices(list(LIFECYCLE_WEIGHTS), list(LIFECYCLE_WEIGHTS.values()))[0]
        if employees is None:
            employees = rng.choice([50, 120, 300, 800, 1500, 3000, 8000, 20000]) + rng.randrange(50)
        if revenue is None and ownership != Ownership.GOVERNMENT:
            revenue = employees * rng.randrange(40, 300) * 10_000 * 100
        fields = {
            "name": name, "name_en": name_en, "short_names": list(short), "industry": industry,
            "ownership": ownership, "employees": employees,
            "annual_revenue": Decimal(revenue) / 100 if revenue else None, **region,
            "address": f"{rng.choice(['人民路', '建设大道', '科技园路', '中山路', '解放路', '金融街', '世纪大道', '滨江大道'])}"
                       f"{rng.randrange(1, 999)}号",
            "phone": _unique(self.phones, lambda: landline(rng, region["city"])),
            "website": website,
            "credit_code": _unique(self.codes, lambda: credit_code(rng, district, ownership, industry)),
            "parent": parent, "owner": owner, "lifecycle": lifecycle, "value_tier": _tier(lifecycle, employees),
            "procurement_mode": rng.choice([*ProcurementMode.values, ProcurementMode.CENTRALIZED, ""]),
            "purchase_pattern": rng.choice([PurchasePattern.CONTINUOUS, PurchasePattern.ONE_OFF, ""]),
            "lead_source": rng.choice(LeadSource.values),
            "description": rng.choice(["", "", "年度信息化预算约3000万元，集中采购，每年三季度招标。",
                                       "付款周期较长（约120天），注意回款。", "总部统一选型，分支机构执行。",
                                       "对国产化替代要求高。", "与竞争对手合作多年，需寻找突破口。"]),
        }  # fmt: skip
        extra_tags = rng.sample(
            ["战略客户", "重点客户", "潜力客户", "集采客户", "老客户", "高新技术企业"], rng.choice([0, 0, 1, 2])
        )
        account = account_services.account_create(actor=owner, fields=fields, tags=[*tags, *extra_tags])
        self.names.add(normalize_company_name(name))
        self.accounts.append(account)
        return account

    def known_accounts(self) -> None:
        for known in KNOWN_ACCOUNTS:
            head = self.account(
                name=known["name"], district=known["district"], industry=known["industry"],
                ownership=known["ownership"], short=known["short"], name_en=known["en"], website=known["website"],
                tags=known["tags"], employees=known["employees"], revenue=known["revenue"],
            )  # fmt: skip
            for branch in known["branches"]:
                if len(branch) == 2:
                    # A branch named after its head office: 中国建设银行股份有限公司 + 上海市分行.
                    suffix, district = branch
                    place = suffix.removesuffix("分行").removesuffix("分公司")
                    plain = suffix.replace("市", "").replace("省", "")
                    name, short = known["name"] + suffix, [known["short"][0] + plain]
                    name_en = f"{known['en']}, {pinyin(place.rstrip('市省')).title()} Branch"
                else:
                    name, district, short_name, name_en = branch
                    short = [short_name]
                self.account(
                    name=name, district=district, industry=known["industry"], ownership=known["ownership"],
                    short=short, name_en=name_en, tags=[t for t in known["tags"] if t != "战略客户"], parent=head,
                    employees=max(200, (known["employees"] or 1000) // 40), revenue=(known["revenue"] or 0) // 30 or None,
                )  # fmt: skip

    def generated_account(self, number: int) -> None:
        rng = self.rng
        # Each city once, so every province has customers; then the big centres more often.
        weights = [CITY_WEIGHTS.get(c[0], 1) for c in CITIES]
        city, _area, city_name = CITIES[number] if number < len(CITIES) else rng.choices(CITIES, weights)[0]
        district = rng.choice(_districts(city))
        ownership = rng.choices(list(OWNERSHIP_WEIGHTS), list(OWNERSHIP_WEIGHTS.values()))[0]
        city_en = pinyin(city_name).title()
        short, name_en, tags, domain = [], "", [], ""
        if ownership == Ownership.GOVERNMENT:
            industry = rng.choice(list(GOVERNMENT_BODIES))
            district_name = regions.name(district)
            # Bureaus, schools and hospitals also exist at district level; a county-level city (太仓市)
            # is named alone; towns (东莞's districts are towns) have none.
            local = industry in (Industry.PUBLIC, Industry.EDUCATION, Industry.HEALTH) and len(district) == 6
            place = f"{city_name}市"
            if local and rng.random() < 0.5:
                place = district_name if district_name.endswith("市") else place + district_name
            name = place + rng.choice(GOVERNMENT_BODIES[industry])
            tags = ["政府机关"]
        else:
            industry = rng.choice([i for i in Industry.values if i != Industry.PUBLIC])
            stem = rng.choice(COMPANY_STEMS)
            word = rng.choice(INDUSTRY_WORDS[industry])
            if industry == Industry.FINANCE and rng.random() < 0.4:
                rural = rng.random() < 0.5
                name = f"{city_name}{'农村商业银行' if rural else '银行'}股份有限公司"
                ownership = rng.choice([Ownership.STATE_OWNED, Ownership.LISTED])
                short = [f"{city_name}{'农商行' if rural else '银行'}"]
                name_en = f"{city_en} {'Rural Commercial ' if rural else ''}Bank Co., Ltd."
                domain = f"{pinyin(city_name)}{'rcb' if rural else 'bank'}.com"
            elif ownership == Ownership.FOREIGN:
                industry = rng.choice(FOREIGN_INDUSTRIES)
                word = rng.choice(INDUSTRY_WORDS[industry])
                brand, brand_en = rng.choice(FOREIGN_BRANDS)
                name = f"{brand}（{city_name}）{word}有限公司"
                short, name_en, tags = [brand], f"{brand_en} ({city_en}) {INDUSTRY_EN[industry]} Co., Ltd.", ["外资"]
                domain = "".join(ch for ch in brand_en.lower() if ch.isalnum()) + ".com.cn"
            elif ownership == Ownership.JOINT_VENTURE:
                name = f"{city_name}{stem}{rng.choice(JV_PARTNERS)}{word}有限公司"
                tags = ["合资"]
            elif ownership == Ownership.STATE_OWNED:
                owner_word = rng.choice(["城建", "国投", "交投", "能源", "产业投资", "文旅", "水务", stem])
                name, stem = f"{city_name}{owner_word}{word}集团有限公司", owner_word
                short, tags = [f"{city_name}{owner_word}集团"], ["地方国企"]
            elif ownership == Ownership.LISTED:
                name = f"{city_name}{stem}{word}股份有限公司"
                short, tags = [f"{stem}{word[:2]}"], ["上市公司"]
            else:
                name = f"{city_name}{stem}{word}{rng.choice(['有限公司', '有限公司', '有限责任公司', '集团有限公司'])}"
                if rng.random() < 0.4:
                    short = [f"{stem}{word[:2]}"]
            if not name_en and rng.random() < 0.35:
                name_en = f"{city_en} {pinyin(stem).title()} {INDUSTRY_EN[industry]} Co., Ltd."
            domain = domain or pinyin(stem) + "".join(s[0] for s in lazy_pinyin(word)) + ".com.cn"
        if normalize_company_name(name) in self.names:
            return
        website = f"https://www.{domain}" if domain and rng.random() < 0.6 else ""
        self.account(name=name, district=district, industry=industry, ownership=ownership, short=short,
                     name_en=name_en, website=website, tags=tags)  # fmt: skip

    # contacts -------------------------------------------------------------------------------

    def buying_centre(self, account: Account, size: int) -> list[AccountContact]:
        rng = self.rng
        kind = (
            "bank"
            if "银行" in account.name
            else "government"
            if account.ownership == Ownership.GOVERNMENT
            else "company"
        )
        templates = POSITIONS[kind]
        chosen = [0, *sorted(rng.sample(range(1, len(templates)), min(size - 1, len(templates) - 1)))]
        made: dict[int, AccountContact] = {}
        domain = account.website.split("//")[-1].removeprefix("www.").split("/")[0] if account.website else ""
        for index in chosen:
            title, department_name, role, influence, boss = templates[index]
            if index == 0:
                title = "行长" if kind == "bank" and account.parent_id else rng.choice(DECISION_MAKER_TITLES[kind])
                if kind == "government" and "医院" in account.name:
                    title = "院长"
            gender = (
                rng.choice([Gender.MALE, Gender.MALE, Gender.FEMALE]) if influence >= 4 else rng.choice(Gender.values)
            )
            name = person_name(rng, gender)
            year = rng.randrange(1962, 1997)
            fields = {
                "name": name, "gender": gender,
                "mobile": _unique(self.mobiles, lambda: mobile(rng)),
                "personality": rng.choice(Personality.values + [""]),
                "hometown": rng.choice(HOMETOWNS) if rng.random() < 0.7 else "",
                "interests": "、".join(rng.sample(INTERESTS, rng.randrange(0, 4))),
                "working_style": rng.choice(WORKING_STYLES) if rng.random() < 0.6 else "",
                "family_notes": rng.choice(FAMILY_NOTES) if rng.random() < 0.4 else "",
                "authority": rng.choice(AUTHORITY[role]),
                "joined_company_on": date(rng.randrange(max(year + 22, 1990), 2025), rng.randrange(1, 13), rng.randrange(1, 29)),
            }  # fmt: skip
            if rng.random() < 0.5:
                fields["phone"] = landline(rng, account.city)
            if domain and rng.random() < 0.7:
                fields["email"] = f"{pinyin(name[1:])}.{pinyin(name[0])}@{domain}"
            if rng.random() < 0.5:
                fields["wechat"] = f"{pinyin(name)}{rng.randrange(1, 999)}"
            if account.ownership in (Ownership.FOREIGN, Ownership.JOINT_VENTURE) and rng.random() < 0.5:
                fields["name_en"] = (
                    f"{rng.choice(['David', 'Kevin', 'Tony', 'Jack', 'Eric']) if gender == Gender.MALE else rng.choice(['Lily', 'Grace', 'Linda', 'Amy', 'Cindy'])} {pinyin(name[0]).title()}"
                )
            birthday_kind = rng.random()
            if birthday_kind < 0.45:
                fields.update(birthday=date(year, rng.randrange(1, 13), rng.randrange(1, 29)), birth_year=year)
            elif birthday_kind < 0.65:
                # A lunar birthday: the month and day are lunar, the year is the Gregorian birth year.
                fields.update(birthday=date(year, rng.randrange(1, 13), rng.randrange(1, 29)), birthday_is_lunar=True,
                              birth_year=year)  # fmt: skip
            elif birthday_kind < 0.8:
                fields["birth_year"] = year
            attitude = rng.choices(Attitude.values, [1, 3, 4, 2, 1])[0]
            if role == BuyingRole.CHAMPION:
                attitude = Attitude.CHAMPION
            position = {
                "title": title, "department_name": department_name, "buying_role": role,
                "influence": max(1, min(5, influence + rng.choice([-1, 0, 0, 0, 1]))) if index else 5,
                "attitude": attitude, "reports_to": made.get(boss) if boss is not None else None,
                "is_primary": index == chosen[min(1, len(chosen) - 1)],
            }  # fmt: skip
            if position["reports_to"] is None and index:
                position["reports_to"] = made[0]
            contact = account_services.contact_create(
                actor=account.owner, account=account, fields=fields, position=position
            )
            made[index] = contact.positions.get(account=account)
        return list(made.values())

    def birthdays_this_week(self, positions: list[AccountContact]) -> None:
        """A few contacts have their (Gregorian) birthday in the coming days, for the dashboard."""
        for offset, position in enumerate(self.rng.sample(positions, 8)):
            day = self.today + timedelta(days=offset % 7)
            year = self.rng.randrange(1965, 1995)
            if day.month == 2 and day.day == 29:
                year = 1988
            account_services.contact_update(
                actor=position.account.owner, contact=position.contact,
                fields={"birthday": date(year, day.month, day.day), "birthday_is_lunar": False, "birth_year": year},
            )  # fmt: skip

    def second_positions(self, positions: list[AccountContact]) -> None:
        """Some people hold positions at two accounts: branch chiefs on head-office committees."""
        tops = {p.account_id: p for p in positions if p.reports_to_id is None}
        chiefs = [p for p in tops.values() if p.account.parent_id]
        for position in self.rng.sample(chiefs, min(8, len(chiefs))):
            head = position.account.parent
            account_services.position_set(
                actor=head.owner, account=head, contact=position.contact,
                fields={"title": "采购管理委员会委员", "department_name": "采购管理委员会", "buying_role": BuyingRole.OTHER,
                        "influence": 3, "attitude": position.attitude, "reports_to": tops[head.pk]},
            )  # fmt: skip
        others = [p for p in positions if p.buying_role == BuyingRole.TECHNICAL]
        for position in self.rng.sample(others, min(4, len(others))):
            target = self.rng.choice([a for a in self.accounts if a.pk != position.account_id and a.industry == position.account.industry] or self.accounts)  # fmt: skip
            account_services.position_set(
                actor=target.owner, account=target, contact=position.contact,
                fields={"title": "外聘技术顾问", "department_name": "专家委员会", "buying_role": BuyingRole.TECHNICAL,
                        "influence": 2, "attitude": Attitude.NEUTRAL, "reports_to": tops[target.pk]},
            )  # fmt: skip

    # the rest of the archive -----------------------------------------------------------------

    def updates_and_teams(self) -> None:
        rng = self.rng
        for account in rng.sample(self.accounts, len(self.accounts) // 2):
            for _n in range(rng.choice([1, 1, 2, 3])):
                account_services.account_update_add(
                    actor=account.owner, account=account, happened_on=self.today - timedelta(days=rng.randrange(1, 180)),
                    content=rng.choice(UPDATE_TEXTS),
                )  # fmt: skip
        managers = [u for u in self.users.values() if u.role == Role.KA_MANAGER]
        for account in rng.sample(self.accounts, len(self.accounts) // 4):
            colleagues = [u for u in managers if u.department_id == account.department_id and u.pk != account.owner_id]
            if colleagues:
                account_services.team_member_set(actor=account.owner, account=account, user=rng.choice(colleagues),
                                                 access=rng.choice(TeamAccess.values), duty=rng.choice(["协助商务", "技术支持", "项目交付"]))  # fmt: skip
            if rng.random() < 0.3:
                account_services.team_member_set(actor=account.owner, account=account, user=self.users["hejing"],
                                                 access=TeamAccess.READ, duty="售后服务")  # fmt: skip
            if rng.random() < 0.2:
                account_services.team_member_set(actor=account.owner, account=account, user=self.users["qianfang"],
                                                 access=TeamAccess.READ, duty="信用与回款")  # fmt: skip

    def visitors(self) -> None:
        rng = self.rng
        managers = [u for u in self.users.values() if u.role == Role.KA_MANAGER]
        for _n in range(30):
            actor = rng.choice(managers)
            city, _area, city_name = rng.choice(CITIES)
            gender = rng.choice(Gender.values)
            account_services.visitor_create(actor=actor, fields={
                "name": person_name(rng, gender), "visited_on": self.today - timedelta(days=rng.randrange(0, 60)),
                "phone": _unique(self.mobiles, lambda: mobile(rng)), "features": rng.choice(VISITOR_FEATURES),
                "employer": f"{city_name}{rng.choice(COMPANY_STEMS)}{rng.choice(INDUSTRY_WORDS[Industry.MANUFACTURING])}有限公司",
                "address": f"{regions.label(city[:2], city, '')}{rng.choice(['高新区', '经济开发区', '工业园'])}",
                "intention": rng.choice(VISITOR_INTENTIONS),
                "status": rng.choice([VisitorStatus.NEW, VisitorStatus.NEW, VisitorStatus.FOLLOWING, VisitorStatus.CLOSED]),
            })  # fmt: skip

    def archive_some(self) -> None:
        lost = [
            a
            for a in self.accounts
            if a.lifecycle == Lifecycle.LOST and a.parent_id is None and not a.branches.exists()
        ]
        for account in self.rng.sample(lost, min(3, len(lost))):
            account_services.account_archive(
                actor=account.owner, account=account, reason="客户已注销，归档保留历史记录"
            )

    # engagement: activities, tasks, reminders; messaging templates ---------------------------

    def activities(self) -> None:
        """A history of visits, calls and meetings over the last four months, with next steps as tasks:
        a few overdue, some due today (call-backs at set times), a contract signing in three days."""
        from kam.engagement import services as engagement_services
        from kam.engagement.models import ActivityKind, TaskKind

        now = timezone.now()
        kinds = [ActivityKind.VISIT] * 4 + [ActivityKind.CALL] * 4 + [ActivityKind.MESSAGE, ActivityKind.MEETING,
                                                                     ActivityKind.SAMPLE_DELIVERY]  # fmt: skip
        outcomes = ["客户对新方案感兴趣，要求下周提供报价", "确认了年度采购计划，预算已批", "样品测试通过，进入商务谈判",
                    "对价格有顾虑，需要再沟通", "技术部提出两点改进意见", "客户推荐了其集团下属公司"]  # fmt: skip
        steps = ["发送报价单", "回电确认样品验收结果", "约技术交流会", "寄送产品资料", "安排高层拜访"]
        owned = list(Account.objects.filter(pk__in=[a.pk for a in self.accounts], is_archived=False,
                                            owner__role=Role.KA_MANAGER).select_related("owner").order_by("pk"))  # fmt: skip
        for account in owned:
            contacts = list(account.positions.values_list("contact_id", flat=True)[:3])
            for _n in range(self.rng.randint(0, 5)):
                when = now - timedelta(days=self.rng.randint(1, 120), minutes=self.rng.randint(0, 600))
                fields = {"kind": self.rng.choice(kinds), "happened_at": when, "contacts": contacts[:2],
                          "subject": f"{account.short_names[0] if account.short_names else account.name[:6]}例行拜访",
                          "notes": "了解客户近期生产和采购情况。", "outcome": self.rng.choice(outcomes)}  # fmt: skip
                engagement_services.activity_create(actor=account.owner, account=account, fields=fields)
        today = timezone.localtime(now).replace(second=0, microsecond=0)
        for number, account in enumerate(self.rng.sample(owned, min(24, len(owned)))):
            if number < 6:
                due, kind = now - timedelta(days=self.rng.randint(1, 6)), TaskKind.FOLLOW_UP  # overdue
            elif number < 14:
                due, kind = today.replace(hour=10 + number % 8, minute=0), TaskKind.CALL_BACK  # today, at a time
            else:
                due, kind = now + timedelta(days=self.rng.randint(1, 14)), TaskKind.FOLLOW_UP
            engagement_services.task_create(actor=account.owner, fields={
                "title": f"{self.rng.choice(steps)}：{account.name}", "kind": kind, "due_at": due, "account": account})  # fmt: skip
        signing = owned[0]
        engagement_services.task_create(actor=signing.owner, fields={
            "title": f"签订年度框架合同：{signing.name}", "kind": TaskKind.CONTRACT_SIGNING, "account": signing,
            "due_at": today.replace(hour=14, minute=30) + timedelta(days=3),
            "documents": ["营业执照副本复印件（加盖公章）", "法定代表人授权委托书", "合同正本一式四份", "公章及合同专用章"]})  # fmt: skip

    def message_templates(self) -> None:
        from kam.messaging import services as messaging_services

        head = self.users["chenjianguo"]
        templates = []
        for fields in (
            {"name": "生日祝福（短信）", "channel": "log", "body": "{contact.name}您好，祝您生日快乐，身体健康，万事如意！——{user.name}"},
            {"name": "节日问候（短信）", "channel": "log", "body": "{contact.name}您好，值此佳节，{account.name}各位同仁节日快乐！感谢一直以来的支持。——{user.name}"},
            {"name": "年度大客户座谈会邀请（邮件）", "channel": "email", "subject": "诚邀{contact.name}出席年度大客户座谈会",
             "body": "尊敬的{contact.name}：\n\n我们诚挚邀请您出席本年度大客户座谈会，共商合作。\n\n{user.name}"},
        ):  # fmt: skip
            templates.append(messaging_services.template_create(actor=head, fields=fields))
        # A saved audience and one birthday greeting sent (the worker "sends" it on the log channel).
        messaging_services.audience_create(actor=head, fields={
            "name": "华东制造业客户的决策者", "filters": {"industry": "manufacturing"},
            "buying_roles": ["decision_maker"], "is_shared": True})  # fmt: skip
        birthday = AccountContact.objects.filter(contact__birthday__isnull=False, account__owner=head).first() or (
            AccountContact.objects.filter(account__owner__role=Role.KA_MANAGER).order_by("pk").first()
        )
        sender = birthday.account.owner
        messaging_services.message_send_bulk(actor=sender, channel="log", contact_ids=[birthday.contact_id],
                                             template=templates[0])  # fmt: skip
        messaging_services.greetings_prepare(today=self.today)

    def programmes(self) -> None:
        """ENG-5/6/7: the VP sponsors a few big accounts with quarterly visits, the annual forum next month
        with invitations and answers, and a new-product trial with its participating accounts."""
        from kam.engagement import services as engagement_services
        from kam.engagement.models import (
            ActivityKind,
            CampaignKind,
            EventKind,
            InvitationStatus,
            PlanKind,
            SponsorTitle,
        )

        head, vp = self.users["chenjianguo"], self.users["liuzong"]
        east = list(Account.objects.filter(department__path__startswith=self.departments["华东/ka"].path,
                                           parent__isnull=True, is_archived=False).order_by("-employees", "pk")[:6])  # fmt: skip
        for number, account in enumerate(east):
            sponsorship = engagement_services.sponsor_create(actor=head, account=account, fields={
                "sponsor": vp, "title": SponsorTitle.VICE_PRESIDENT, "since": self.today - timedelta(days=400),
                "duties": "每季度高层拜访一次；参加年度大客户座谈会；重大合同签约出席"})  # fmt: skip
            engagement_services.plan_create(actor=head, account=account, fields={
                "kind": PlanKind.EXECUTIVE_VISIT, "every_months": 3, "sponsor": sponsorship,
                "starts_on": self.today - timedelta(days=200)})  # fmt: skip
            if number % 2 == 0:  # visited last month; the others are overdue
                engagement_services.activity_create(actor=account.owner, account=account, fields={
                    "kind": ActivityKind.EXECUTIVE_VISIT, "happened_at": timezone.now() - timedelta(days=25),
                    "participants": [vp.pk, account.owner.pk], "subject": "刘总季度高层拜访",
                    "outcome": "双方高层确认明年合作重点"})  # fmt: skip
        start = timezone.localtime().replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=30)
        forum = engagement_services.event_create(actor=head, fields={
            "name": f"{start.year}年度大客户座谈会", "kind": EventKind.FORUM, "starts_at": start,
            "ends_at": start + timedelta(hours=8), "place": "上海浦东新区世纪大道 88 号 国际会议中心 3 楼",
            "description": "回顾合作成果，发布新产品路线图，听取客户意见。"})  # fmt: skip
        invitations = engagement_services.event_invite(actor=head, event=forum, accounts=east[:4])
        for number, invitation in enumerate(invitations[:6]):
            status = InvitationStatus.DECLINED if number == 5 else InvitationStatus.ACCEPTED
            engagement_services.invitation_respond(actor=head, invitation=invitation, status=status)
        trial = engagement_services.campaign_create(actor=head, fields={
            "name": "新一代智能传感器试用", "kind": CampaignKind.TRIAL, "product": "KS-9 智能传感器",
            "starts_on": self.today - timedelta(days=20), "ends_on": self.today + timedelta(days=40),
            "goal": "请重点客户先行试用，收集现场反馈后正式发布"})  # fmt: skip
        for account, status in zip(east[:4], ["running", "running", "completed", "planned"], strict=True):
            engagement_services.campaign_participant_add(actor=head, campaign=trial, account=account,
                                                         fields={"status": status})  # fmt: skip

    def sales(self) -> None:
        """Issue 3 in the demo: two years of sales lines for the customers (imported as an ERP export would
        be, so the monthly aggregates are the import's), and opportunities spread over the funnel, each
        moved forward only as far as its gates hold."""
        import csv
        import io

        from kam.sales import services as sales_services
        from kam.sales.imports import sales_import
        from kam.sales.models import GateItem

        # Its own random source: the rest of the demo stays the same.
        rng = random.Random(SEED + 3)
        customers = list(Account.objects.filter(pk__in=[a.pk for a in self.accounts], lifecycle=Lifecycle.CUSTOMER,
                                                is_archived=False).order_by("pk"))  # fmt: skip
        lines = {"工业阀门": 1800, "仪器仪表": 950, "自动化系统": 4200, "售后服务": 300}
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["客户", "订单号", "行号", "日期", "产品线", "数量", "金额", "毛利"])
        for account in customers:
            size = max(1, (account.employees or 100) // 500)
            for month in range(24):
                day = self.today.replace(day=1) - timedelta(days=30 * month) + timedelta(days=rng.randrange(0, 25))
                if day >= self.today:
                    continue
                order = f"SO{day:%Y%m}{account.pk:05d}{month:02d}"
                for line_no, (product_line, price) in enumerate(
                    rng.sample(sorted(lines.items()), rng.randint(1, 2)), 1
                ):
                    quantity = rng.randint(1, 4) * size
                    amount = Decimal(price * quantity)
                    writer.writerow([account.credit_code, order, line_no, day.isoformat(), product_line, quantity,
                                     amount, (amount * Decimal("0.28")).quantize(Decimal("0.01"))])  # fmt: skip
        report = sales_import(actor=self.users["admin"], file=io.BytesIO(out.getvalue().encode("utf-8")),
                              filename="ERP销售明细.csv")  # fmt: skip
        assert report.ok, report.errors[:3]

        owned = list(Account.objects.filter(pk__in=[a.pk for a in self.accounts], is_archived=False,
                                            owner__role=Role.KA_MANAGER).select_related("owner").order_by("pk"))  # fmt: skip
        products = ["工业阀门", "仪器仪表", "自动化系统"]
        for account in rng.sample(owned, min(30, len(owned))):
            opportunity = sales_services.opportunity_create(actor=account.owner, account=account, fields={
                "name": f"{account.short_names[0] if account.short_names else account.name[:8]}{rng.choice(products)}项目",
                "amount": Decimal(rng.randrange(20, 500) * 10_000), "product_lines": [rng.choice(products)],
                "expected_close": self.today + timedelta(days=rng.randrange(10, 150)),
                "competitors": rng.sample(["艾默生", "西门子", "横河", "本地厂商"], rng.randint(0, 2)),
                "next_step": "约技术交流", "source": "客户推荐"})  # fmt: skip
            if rng.random() < 0.6:  # a sample sent and accepted to the agreed standard (PIPE-8)
                sales_services.sample_create(actor=account.owner, account=account, fields={
                    "opportunity": opportunity, "product": opportunity.product_lines[0] + "样品", "quantity": 2,
                    "agreed_standard": "按技术协议第3条验收", "accepted": "yes",
                    "sent_on": self.today - timedelta(days=rng.randrange(5, 60))})  # fmt: skip
            for _step in range(rng.randint(0, 4)):  # tick what a user ticks, move on while the gate holds
                for item in GateItem.objects.filter(stage=opportunity.stage, is_active=True, auto_check=""):
                    sales_services.gate_check(actor=account.owner, opportunity=opportunity, item=item)
                following = opportunity.pipeline.stages.filter(order__gt=opportunity.stage.order, kind="open").first()
                if following is None:
                    break
                try:
                    opportunity = sales_services.opportunity_advance(actor=account.owner, opportunity=opportunity,
                                                                     to_stage=following)  # fmt: skip
                except ValidationError:
                    break  # the gate asks for what KAM checks itself (an insider, an accepted sample)

    # --- quotas (PIPE-7) [h1] -------------------------------------------------------------------

    def quotas(self) -> None:
        """This year's monthly quotas (定额) of the KA managers, set by the administrator: last year's sales of
        the same month plus a tenth, rounded to 10,000 CNY (at least 10,000), so completion shows real rates
        around 100 %; the 华东 team 一组 also gets a quota of its own (its members' plus 5 %)."""
        from kam.org import services as quota_services
        from kam.sales.selectors import credited_sales

        year = self.today.year
        managers = [u for u in self.users.values() if u.role == Role.KA_MANAGER]
        last_year = credited_sales(owner_ids=[u.pk for u in managers], first_month=date(year - 1, 1, 1),
                                   last_month=date(year - 1, 12, 1))  # fmt: skip
        step, floor = Decimal(10_000), Decimal(10_000)
        entries, team = [], {}
        for user in managers:
            for month in range(1, 13):
                sold = last_year.get((user.pk, date(year - 1, month, 1)), (Decimal(0),))[0]
                amount = max(floor, (sold * Decimal("1.1") / step).quantize(Decimal(1)) * step)
                entries.append({"user": user.pk, "month": date(year, month, 1), "amount": amount})
                if user.department_id == self.departments["华东/1"].pk:
                    team[month] = team.get(month, Decimal(0)) + amount
        entries += [{"department": self.departments["华东/1"].pk, "month": date(year, month, 1),
                     "amount": (amount * Decimal("1.05") / step).quantize(Decimal(1)) * step} for month, amount in team.items()]  # fmt: skip
        quota_services.quota_bulk_set(actor=self.users["admin"], entries=entries)

    # --- forecasts (PIPE-4, ANA-1, ANA-2) [h2] ------------------------------------------------

    def forecasts(self) -> None:
        """The forecast page of the demo: opportunities further down the funnel marked commit / best case by
        their owners, the statistical forecast computed, this month's snapshots taken, and — since a new
        install has no past — snapshots of the two months before, made up around those months' actual sales
        (weighted and best case a little high, commit low, as managers tend to forecast) so that the
        accuracy table has something to compare."""
        from kam.org.selectors import quota_amounts
        from kam.sales import selectors as sales_selectors
        from kam.sales import services as sales_services
        from kam.sales.models import ForecastSnapshot, Opportunity, OpportunityStatus, OwnerForecastMonth

        rng = random.Random(SEED + 4)
        open_deals = Opportunity.objects.filter(status=OpportunityStatus.OPEN).select_related("stage", "owner")
        for deal in open_deals.order_by("pk"):
            category = "commit" if deal.stage.order >= 3 else "best_case" if deal.stage.order == 2 else ""
            if category:
                sales_services.opportunity_update(actor=deal.owner, opportunity=deal, version=deal.version,
                                                  fields={"forecast_category": category})  # fmt: skip
        sales_services.statistical_forecasts_recompute(today=self.today)
        sales_services.forecast_snapshots_take(today=self.today)
        managers = [u.pk for u in self.users.values() if u.role in (Role.KA_MANAGER, Role.KA_HEAD)]
        current = self.today.replace(day=1)
        past = [(current - timedelta(days=1)).replace(day=1)]
        past.insert(0, (past[0] - timedelta(days=1)).replace(day=1))
        actual = sales_selectors.credited_sales(owner_ids=managers, first_month=past[0], last_month=past[1])
        quotas = quota_amounts(user_ids=managers, first_month=past[0], last_month=past[1])
        statistical = {(o, m): s for o, m, s in OwnerForecastMonth.objects.filter(
            owner_id__in=managers, month__in=past, is_backtest=True).values_list("owner_id", "month", "statistical")}  # fmt: skip
        cent = Decimal("0.01")
        snapshots = []
        for owner in managers:
            for month in past:
                sold = actual.get((owner, month), (Decimal(0),))[0]
                if not sold:
                    continue
                share = {name: (sold * Decimal(str(rng.uniform(low, high)))).quantize(cent)
                         for name, low, high in (("weighted", 0.8, 1.25), ("commit", 0.55, 0.95),
                                                 ("best_case", 1.0, 1.35))}  # fmt: skip
                snapshots.append(ForecastSnapshot(owner_id=owner, month=month, taken_on=month, quota=quotas.get(
                    (owner, month)), pipeline=(share["best_case"] * Decimal("1.3")).quantize(cent),
                    statistical=statistical.get((owner, month), Decimal(0)), **share))  # fmt: skip
        ForecastSnapshot.objects.bulk_create(snapshots, ignore_conflicts=True)

    # --- work plans (PIPE-4) and weekly reports (GOV-8) [h4] ---------------------------------------

    def work_plan_and_weekly_reports(self) -> None:
        """李娜's work plan for this month (visits at three of her accounts, calls, a meeting), and last week's
        reports for every KA manager, in their heads' inboxes (the worker makes them on Mondays after this)."""
        from kam.reports import services as report_services
        from kam.sales import services as sales_services

        lina = self.users["lina"]
        own = list(Account.objects.filter(owner=lina, is_archived=False).order_by("pk")[:3])
        items = [
            {"account": a.pk, "kind": "visit", "planned": n, "note": "季度走访"}
            for a, n in zip(own, (4, 2, 2), strict=False)
        ]
        items += [{"kind": "call", "planned": 12, "note": "电话回访"}, {"kind": "meeting", "planned": 2}]
        sales_services.work_plan_set(actor=lina, owner=lina, month=self.today.replace(day=1), items=items,
                                     note="本月重点：年底备货与明年框架协议")  # fmt: skip
        last_monday = self.today - timedelta(days=self.today.weekday() + 7)
        report_services.weekly_reports_generate(week_start=last_monday)

    def reminders(self) -> None:
        """Today's reminders right away (the worker makes them at 07:30 each day after this)."""
        from kam.engagement import services as engagement_services

        engagement_services.reminders_for_day(day=self.today)
        engagement_services.timed_reminders(now=timezone.now())

    # the run --------------------------------------------------------------------------------

    def run(self) -> None:
        self.organisation()
        self.known_accounts()
        start = len(self.accounts)
        attempt = 0
        while len(self.accounts) < start + GENERATED_ACCOUNTS:
            self.generated_account(attempt)
            attempt += 1
        positions: list[AccountContact] = []
        for account in self.accounts:
            big = account.parent_id is None and account.employees and account.employees > 10_000
            positions += self.buying_centre(account, self.rng.randint(4, 7) if big else self.rng.randint(3, 5))
        self.birthdays_this_week(positions)
        self.second_positions(positions)
        self.updates_and_teams()
        self.visitors()
        self.archive_some()
        self.activities()
        self.message_templates()
        self.programmes()
        self.sales()
        self.quotas()  # [h1]
        self.forecasts()  # [h2]
        self.work_plan_and_weekly_reports()  # [h4]
        self.reminders()

    def report(self, seconds: float) -> None:
        w = self.out.write
        w(f"Demo data loaded in {seconds:.1f} s: {Account.objects.count()} accounts, {Contact.objects.count()} contacts, "
          f"{AccountContact.objects.count()} positions, {len(self.users)} users.\n\n")  # fmt: skip
        rows = [("username", "name", "role", "scope", "department", "password")]
        for user in self.users.values():
            path = [d.name for d in _ancestors(user.department)]
            rows.append((user.username, user.display_name, user.role, user.data_scope, "/".join(path), DEMO_PASSWORD))
        widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
        for number, row in enumerate(rows):
            w("  ".join(cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)).rstrip() + "\n")
            if number == 0:
                w("  ".join("-" * n for n in widths) + "\n")


def _tier(lifecycle: str, employees: int) -> str:
    """A customer's value tier (SEG-3) by size, without drawing from the random source (the rest of the
    demo stays the same); prospects are not graded yet."""
    if lifecycle != Lifecycle.CUSTOMER:
        return ""
    return (
        "platinum" if employees >= 10_000 else "gold" if employees >= 1_500 else "iron" if employees >= 300 else "lead"
    )


def _ancestors(department) -> list:
    chain = []
    while department is not None:
        chain.append(department)
        department = department.parent
    return chain[::-1]


def _width(text: str) -> int:
    """Display width in a terminal: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def load_demo(stdout) -> int:
    """Load the demo archive into an empty database; leave a database with data alone."""
    if Account.objects.exists() or User.objects.filter(is_superuser=False).exists():
        stdout.write("The database already has data (accounts or users); the demo data was not loaded.\n")
        return 0
    started = time.monotonic()
    demo = _Demo(stdout)
    # One transaction: all or nothing, and far faster on SQLite than a commit per record.
    with transaction.atomic():
        demo.run()
    demo.report(time.monotonic() - started)
    return 0

"""Pipeline templates from the domain guide (S3 §2.2 and §3.2): stage lists with default
probabilities (integer percent), forecast categories, entry requirements and, for linear
pipelines, the allowed backward moves."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StageSpec:
    name: str
    probability: int
    forecast_category: str = "pipeline"
    is_closed: bool = False
    is_won: bool = False
    is_approval: bool = False
    required_fields: tuple[str, ...] = ()
    back_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class Template:
    key: str
    title: str
    policy: str
    stages: tuple[StageSpec, ...]
    description: str = ""
    approval: bool = False
    notes: list[str] = field(default_factory=list)


def _won(name: str) -> StageSpec:
    return StageSpec(name, 100, "closed", is_closed=True, is_won=True)


LOST = StageSpec("Closed Lost", 0, "omitted", is_closed=True)

TEMPLATES: dict[str, Template] = {
    t.key: t
    for t in (
        Template(
            "linear",
            "Linear (线性, funnel)",
            "linear",
            (
                StageSpec("Prospecting", 10),  # 潜在客户开发
                StageSpec("Initial Contact & Needs Assessment", 20),  # 初步接触与需求了解
                StageSpec(
                    "Presentation & Proposal", 40, "best_case", required_fields=("needs",)
                ),  # 产品展示与方案介绍
                StageSpec(
                    "Negotiation & Objection Handling",
                    60,
                    "best_case",
                    required_fields=("amount",),
                ),  # 商务谈判与异议处理
                StageSpec(
                    "Closing",
                    80,
                    "commit",
                    required_fields=("amount", "expected_close_date"),
                    back_to=("Negotiation & Objection Handling",),
                ),  # 成交: may go back to renegotiate
                _won("Follow-up & Relationship"),  # 客户关系维护
                LOST,
            ),
            "Stages may not be skipped; the one backward move is Closing → Negotiation.",
        ),
        Template(
            "linear_with_approval",
            "Linear with decision approval (决策审批)",
            "linear",
            (
                StageSpec("Prospect Identification", 10),  # 潜在客户识别
                StageSpec("Needs Analysis & Positioning", 20),  # 需求分析与定位
                StageSpec("Demo & Promotion", 40, "best_case"),  # 产品展示与推广
                StageSpec(
                    "Negotiation & Quotation", 60, "best_case", required_fields=("amount",)
                ),  # 谈判与报价
                StageSpec("Decision Approval", 70, "commit", is_approval=True),  # 决策审批
                StageSpec(
                    "Contract Signing & Execution",
                    85,
                    "commit",
                    required_fields=("amount", "expected_close_date"),
                    back_to=("Negotiation & Quotation",),
                ),  # 合同签订与执行
                _won("Relationship Maintenance"),  # 客户关系维护
                LOST,
            ),
            "Deals above the approval threshold must pass Decision Approval.",
            approval=True,
        ),
        Template(
            "consultative",
            "Consultative (顾问式)",
            "non_linear",
            (
                StageSpec("Needs Analysis & Goal Setting", 15),  # 需求分析与目标设定
                StageSpec("Introduction & Solution", 35, "best_case"),  # 产品介绍与解决方案
                StageSpec(
                    "Negotiation & Contract", 70, "commit", required_fields=("amount",)
                ),  # 销售谈判与合同签订
                _won("Delivery & Follow-up"),  # 交付与跟进
                LOST,
            ),
            "Non-linear: consultants may move a deal to any stage.",
        ),
        Template(
            "customer_journey",
            "Customer journey (客户旅程)",
            "linear",
            (
                StageSpec("Awareness", 10),  # 意识
                StageSpec("Consideration", 30, "best_case"),  # 考虑
                StageSpec(
                    "Decision",
                    70,
                    "commit",
                    required_fields=("amount",),
                    back_to=("Consideration",),
                ),  # 决策
                _won("Retention"),  # 留存
                LOST,
            ),
            "Awareness → Consideration → Decision → Retention.",
        ),
        Template(
            "online",
            "Online (网络销售)",
            "non_linear",
            (
                StageSpec("Needs Collection", 10),  # 需求收集
                StageSpec("Display & Recommendation", 40, "best_case"),  # 产品展示与推荐
                StageSpec("Order Processing", 80, "commit", required_fields=("amount",)),
                _won("After-sales & Optimisation"),  # 售后服务, 数据分析与优化
                LOST,
            ),
            "Non-linear online funnel.",
        ),
    )
}

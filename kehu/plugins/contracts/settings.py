"""The ``[plugin_settings.contracts]`` section of ``kehu.toml``."""

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ApprovalStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Step name shown to users: department_head, legal, finance")
    role: str = Field(description="Role whose users approve this step (admins always may)")


class ApprovalTier(BaseModel):
    """Contracts whose total (major units) is at least ``min_amount`` use ``steps``."""

    model_config = ConfigDict(extra="forbid")

    min_amount: Decimal = Decimal(0)
    steps: list[ApprovalStep]


def _default_tiers() -> list[ApprovalTier]:
    return [
        ApprovalTier(
            min_amount=Decimal(0),
            steps=[
                ApprovalStep(name="department_head", role="manager"),
                ApprovalStep(name="legal", role="admin"),
                ApprovalStep(name="finance", role="finance"),
            ],
        )
    ]


class DunningRung(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: str
    days: int = Field(description="Days past due (negative: days before due)")


def _default_ladder() -> list[DunningRung]:
    return [
        DunningRung(step="pre_due_reminder", days=-7),
        DunningRung(step="reminder", days=1),
        DunningRung(step="collection", days=30),
        DunningRung(step="legal", days=90),
    ]


def _default_rates() -> dict[str, dict[str, Decimal]]:
    base = {"current": "0.01", "1-30": "0.03", "31-60": "0.10", "61-90": "0.30", "90+": "0.60"}
    factor = {"A": "0.5", "B": "1", "C": "1.5", "D": "2"}
    return {
        rating: {b: min(Decimal(r) * Decimal(f), Decimal(1)) for b, r in base.items()}
        for rating, f in factor.items()
    }


class ContractsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number_prefix: str = Field("HT", description="Contract numbers: <prefix>-<year>-<seq>")
    invoice_prefix: str = Field("INV", description="Invoice numbers: <prefix>-<year>-<seq>")
    default_currency: str = "CNY"
    approval_tiers: list[ApprovalTier] = Field(default_factory=_default_tiers)
    aging_buckets: list[int] = Field(
        default_factory=lambda: [30, 60, 90],
        description="Upper bounds (days past due) of the overdue buckets; the last is open",
    )
    dunning_ladder: list[DunningRung] = Field(default_factory=_default_ladder)
    ratings: list[str] = Field(default_factory=lambda: ["A", "B", "C", "D"])
    high_risk_ratings: list[str] = Field(default_factory=lambda: ["D"])
    default_rating: str = "B"
    provision_rates: dict[str, dict[str, Decimal]] = Field(default_factory=_default_rates)
    churn_overdue_weight: int = Field(
        25, ge=0, le=100, description="Churn points for receivables 60+ days overdue"
    )
    churn_renewal_weight: int = Field(
        15, ge=0, le=100, description="Churn points for a renewal due soon"
    )
    churn_renewal_days: int = Field(
        60, ge=1, description="A renewal within this many days is a churn signal"
    )
    renewal_grace_days: int = Field(
        60,
        ge=0,
        le=3650,
        description="A contract counts as renewed when another contract of its customer starts "
        "within this many days before or after its end date (renewal rate)",
    )

    @model_validator(mode="after")
    def _check(self) -> "ContractsSettings":
        if not self.approval_tiers or any(not t.steps for t in self.approval_tiers):
            raise ValueError("approval_tiers needs at least one tier with steps")
        if self.aging_buckets != sorted(set(self.aging_buckets)) or any(
            b <= 0 for b in self.aging_buckets
        ):
            raise ValueError("aging_buckets must be increasing positive day counts")
        if self.default_rating not in self.ratings:
            raise ValueError("default_rating must be one of ratings")
        return self

    def bucket_names(self) -> list[str]:
        names, low = ["current"], 1
        for high in self.aging_buckets:
            names.append(f"{low}-{high}")
            low = high + 1
        names.append(f"{self.aging_buckets[-1]}+" if self.aging_buckets else "overdue")
        return names

    def tier_for(self, total: Decimal) -> ApprovalTier:
        tiers = sorted(self.approval_tiers, key=lambda t: t.min_amount)
        chosen = tiers[0]
        for tier in tiers:
            if total >= tier.min_amount:
                chosen = tier
        return chosen

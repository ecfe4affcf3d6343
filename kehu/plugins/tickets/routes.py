"""The public survey link: ``GET /surveys/{token}`` shows the question, ``POST`` answers it.

No API key: the token is the credential (random, stored only as a SHA-256 hash, single-use,
expiring). The route reveals the survey question, its scale and the customer's display name,
nothing else; unknown, expired and answered tokens all get the same 404.
"""

from typing import Any

from litestar import get, post
from litestar.params import FromPath, JSONBody
from pydantic import BaseModel, ConfigDict, Field

from kehu.plugins.tickets.services import surveys


class SurveyAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: int
    dimensions: dict[str, int] = Field(default_factory=dict)
    comment: str = ""


@get("/surveys/{token:str}", tags=["surveys"], security=[])
async def show_survey(token: FromPath[str]) -> dict[str, Any]:
    """The question of an open survey."""
    s = await surveys.public_survey(token)
    return {
        "kind": s.kind,
        "question": s.question,
        "customer": s.customer_name,
        "scale": {"min": s.scale[0], "max": s.scale[1]},
        "dimensions": list(s.dimensions),
    }


@post("/surveys/{token:str}", tags=["surveys"], security=[], status_code=200)
async def answer_survey(token: FromPath[str], data: JSONBody[SurveyAnswer]) -> dict[str, Any]:
    """Answer the survey (once)."""
    await surveys.answer_survey(token, data.score, data.dimensions, data.comment)
    return {"answered": True, "message": "Thank you for your feedback."}


ROUTES = [show_survey, answer_survey]

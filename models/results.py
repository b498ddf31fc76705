"""Result and progress payloads (CONTRACT.md section 4).

Optional fields are always serialised, as JSON ``null`` when empty.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Status(StrEnum):
    """Outcome of a task."""

    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class ResultPayload(BaseModel):
    """Fields every answer carries."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    user_id: str = Field(alias="userId")
    status: Status
    error: str | None = None
    error_code: str | None = Field(None, alias="errorCode")

    def to_wire(self) -> dict[str, Any]:
        """The payload as the backend reads it: camelCase, nulls included."""
        return self.model_dump(by_alias=True, mode="json")


class GraphGenerationResult(ResultPayload):
    """Payload of ``GRAPH_GENERATION_RESULT``."""

    result_s3_key: str | None = Field(None, alias="resultS3Key")
    features_s3_key: str | None = Field(None, alias="featuresS3Key")
    summary_included: bool = Field(False, alias="summaryIncluded")
    summary_s3_key: str | None = Field(None, alias="summaryS3Key")
    chat_id: str | None = Field(None, alias="chatId")


class AddNodeResult(ResultPayload):
    """Payload of ``ADD_NODE_RESULT``."""

    result_s3_key: str | None = Field(None, alias="resultS3Key")


class GraphSummaryResult(ResultPayload):
    """Payload of ``GRAPH_SUMMARY_RESULT``."""

    summary_s3_key: str | None = Field(None, alias="summaryS3Key")
    chat_id: str | None = Field(None, alias="chatId")


class GraphGenerationProgress(BaseModel):
    """Payload of ``GRAPH_GENERATION_PROGRESS``."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    user_id: str = Field(alias="userId")
    current_stage: str = Field(alias="currentStage")
    progress_percent: int = Field(alias="progressPercent", ge=0, le=100)
    eta_seconds: int | None = Field(None, alias="etaSeconds")

    def to_wire(self) -> dict[str, Any]:
        """The payload as the backend reads it."""
        return self.model_dump(by_alias=True, mode="json")


#: Result payload model of each result ``taskType``.
RESULT_MODELS: dict[str, type[ResultPayload]] = {
    "GRAPH_GENERATION_RESULT": GraphGenerationResult,
    "ADD_NODE_RESULT": AddNodeResult,
    "GRAPH_SUMMARY_RESULT": GraphSummaryResult,
}

#: Stage names of ``GRAPH_GENERATION_PROGRESS`` as the backend shows them to users.
STAGE_NAMES = {
    1: "임베딩 생성",
    2: "키워드 추출",
    3: "클러스터 생성 및 매핑",
    4: "엣지 유사도 계산",
    5: "그래프 보정",
    6: "그래프 요약 생성",
}


def stage_label(stage: int, percent: int) -> str:
    """``[N단계] <stage> 시작|중|완료`` for 0 %, in between and 100 %."""
    state = "시작" if percent <= 0 else "완료" if percent >= 100 else "중"
    return f"[{stage}단계] {STAGE_NAMES[stage]} {state}"

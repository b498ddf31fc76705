"""Request payloads (CONTRACT.md section 3)."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from models.base import RequestModel

#: The longest ``userId`` accepted: it is echoed in every answer, which must fit in one SQS message.
MAX_USER_ID = 256


class GraphGenerationRequest(RequestModel):
    """Payload of ``GRAPH_GENERATION_REQUEST``."""

    user_id: str = Field(alias="userId", min_length=1, max_length=MAX_USER_ID)
    s3_key: str = Field(alias="s3Key", min_length=1)
    bucket: str | None = None
    chat_id: str | None = Field(None, alias="chatId")
    include_summary: bool = Field(False, alias="includeSummary")
    language: str = "ko"
    summary_language: str | None = Field(None, alias="summaryLanguage")
    input_type: str | None = Field("auto", alias="inputType")
    min_clusters: int = Field(3, alias="minClusters", ge=1, le=100)
    max_clusters: int = Field(8, alias="maxClusters", ge=1, le=100)
    num_clusters: int | None = Field(None, alias="numClusters", ge=1, le=100)
    extra_s3_keys: list[str] = Field(default_factory=list, alias="extraS3Keys")

    @model_validator(mode="after")
    def _range_is_ordered(self) -> GraphGenerationRequest:
        if self.min_clusters > self.max_clusters:
            raise ValueError("minClusters must not exceed maxClusters")
        return self


class AddNodeRequest(RequestModel):
    """Payload of ``ADD_NODE_REQUEST``."""

    user_id: str = Field(alias="userId", min_length=1, max_length=MAX_USER_ID)
    s3_key: str = Field(alias="s3Key", min_length=1)
    bucket: str | None = None
    language: str = "ko"
    input_type: str | None = Field("auto", alias="inputType")
    extra_s3_keys: list[str] = Field(default_factory=list, alias="extraS3Keys")
    be_base_url: str | None = Field(None, alias="beBaseUrl")
    internal_service_token: SecretStr | None = Field(None, alias="internalServiceToken", repr=False)


class GraphSummaryRequest(RequestModel):
    """Payload of ``GRAPH_SUMMARY_REQUEST``."""

    user_id: str = Field(alias="userId", min_length=1, max_length=MAX_USER_ID)
    graph_s3_key: str = Field(alias="graphS3Key", min_length=1)
    bucket: str | None = None
    chat_id: str | None = Field(None, alias="chatId")
    language: str = "ko"
    vector_db_s3_key: str | None = Field(None, alias="vectorDbS3Key")

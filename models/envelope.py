"""The SQS envelope and the task types of the wire contract (CONTRACT.md sections 1, 2)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from models.base import utc_now_iso


class TaskType(StrEnum):
    """Every ``taskType`` the worker reads or writes."""

    GRAPH_GENERATION_REQUEST = "GRAPH_GENERATION_REQUEST"
    ADD_NODE_REQUEST = "ADD_NODE_REQUEST"
    GRAPH_SUMMARY_REQUEST = "GRAPH_SUMMARY_REQUEST"
    GRAPH_GENERATION_RESULT = "GRAPH_GENERATION_RESULT"
    GRAPH_GENERATION_PROGRESS = "GRAPH_GENERATION_PROGRESS"
    ADD_NODE_RESULT = "ADD_NODE_RESULT"
    GRAPH_SUMMARY_RESULT = "GRAPH_SUMMARY_RESULT"


#: The result type that answers each request type. Anything else is answered as graph generation.
RESULT_TYPES: dict[str, TaskType] = {
    TaskType.GRAPH_GENERATION_REQUEST: TaskType.GRAPH_GENERATION_RESULT,
    TaskType.ADD_NODE_REQUEST: TaskType.ADD_NODE_RESULT,
    TaskType.GRAPH_SUMMARY_REQUEST: TaskType.GRAPH_SUMMARY_RESULT,
}


def result_type_for(task_type: str | None) -> TaskType:
    """The result ``taskType`` for a request ``taskType`` (CONTRACT.md section 5)."""
    return RESULT_TYPES.get(task_type or "", TaskType.GRAPH_GENERATION_RESULT)


class Envelope(BaseModel):
    """One message body on either queue: plain JSON, camelCase, never base64."""

    model_config = ConfigDict(extra="ignore")

    task_type: str = Field(alias="taskType")
    task_id: str = Field(alias="taskId")
    timestamp: str = Field(default_factory=utc_now_iso)
    payload: dict[str, Any] = Field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        """The JSON object as the backend reads it."""
        return {
            "taskType": self.task_type,
            "payload": self.payload,
            "timestamp": self.timestamp,
            "taskId": self.task_id,
        }

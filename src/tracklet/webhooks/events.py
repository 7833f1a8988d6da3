"""MLflow's webhook events: which (entity, action) pairs exist, how the wire names them, and what MLflow's
server sends for each (`Occurrence`: the `data` of the delivery, built as its handlers build it).

Prompts are registered models and versions tagged `mlflow.prompt.is_prompt=true`. As in MLflow, whether a
new model or version is a prompt is read from the tags of the request that creates it; for tags and
aliases, from the registered model's tags after the change (`Occurrence.model`). A registered model's
own tags only have events when it is a prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tracklet.entities import KeyValue, ModelVersion, WebhookEvent
from tracklet.errors import InvalidParameterValue
from tracklet.store.registry import is_prompt
from tracklet.store.search_sql import PROMPT_TAG
from tracklet.validation import missing

PROMPT_TYPE_TAG = "_mlflow_prompt_type"  # chat or text: the prompt client's own, left out of payloads
PROMPT_TEXT_TAG = "mlflow.prompt.text"  # a prompt version's template, sent as `template`

# Valid actions of each entity (MLflow's `VALID_ENTITY_ACTIONS`).
ENTITY_ACTIONS: dict[str, tuple[str, ...]] = {
    "registered_model": ("created",),
    "model_version": ("created",),
    "model_version_tag": ("set", "deleted"),
    "model_version_alias": ("created", "deleted"),
    "prompt": ("created",),
    "prompt_version": ("created",),
    "prompt_tag": ("set", "deleted"),
    "prompt_version_tag": ("set", "deleted"),
    "prompt_alias": ("created", "deleted"),
    "budget_policy": ("exceeded",),  # MLflow's AI gateway budgets: accepted, never emitted by tracklet
}
ACTIONS = ("created", "updated", "deleted", "set", "exceeded")
# Protobuf JSON may carry an enum's number instead of its name (webhooks.proto).
_ENTITY_NUMBERS = dict(enumerate(ENTITY_ACTIONS, start=1))
_ACTION_NUMBERS = dict(enumerate(ACTIONS, start=1))


@dataclass(frozen=True, order=True)
class Event:
    entity: str  # as MLflow stores and sends it: "model_version"
    action: str  # "created"

    def __str__(self) -> str:
        return f"{self.entity}.{self.action}"

    def to_wire(self) -> WebhookEvent:
        return WebhookEvent(entity=self.entity.upper(), action=self.action.upper())


def _enum_value(value: Any, numbers: dict[int, str], names: tuple[str, ...] | list[str], field: str) -> str:
    if value is None or value == "" or value == 0:  # 0: ENTITY_UNSPECIFIED / ACTION_UNSPECIFIED
        raise missing(field)
    if isinstance(value, int) and not isinstance(value, bool) and value in numbers:
        return numbers[value]
    if isinstance(value, str) and value.lower() in names:
        return value.lower()
    choices = ", ".join(name.upper() for name in names)
    raise InvalidParameterValue(
        f"Invalid value {value!r} for parameter '{field}' supplied: it must be one of {choices}"
    )


def parse_event(entity: Any, action: Any, field: str) -> Event:
    """An event as a request names it (`MODEL_VERSION`/`CREATED`, any case, or protobuf numbers), checked
    against the actions its entity has, with MLflow's message."""
    entity_name = _enum_value(entity, _ENTITY_NUMBERS, list(ENTITY_ACTIONS), f"{field}.entity")
    action_name = _enum_value(action, _ACTION_NUMBERS, ACTIONS, f"{field}.action")
    valid = ENTITY_ACTIONS[entity_name]
    if action_name not in valid:
        raise InvalidParameterValue(
            f"Invalid action '{action_name}' for entity '{entity_name}'. Valid actions are: {sorted(valid)}"
        )
    return Event(entity_name, action_name)


REGISTERED_MODEL_CREATED = Event("registered_model", "created")
MODEL_VERSION_CREATED = Event("model_version", "created")
MODEL_VERSION_TAG_SET = Event("model_version_tag", "set")
MODEL_VERSION_TAG_DELETED = Event("model_version_tag", "deleted")
MODEL_VERSION_ALIAS_CREATED = Event("model_version_alias", "created")
MODEL_VERSION_ALIAS_DELETED = Event("model_version_alias", "deleted")
PROMPT_CREATED = Event("prompt", "created")
PROMPT_VERSION_CREATED = Event("prompt_version", "created")
PROMPT_TAG_SET = Event("prompt_tag", "set")
PROMPT_TAG_DELETED = Event("prompt_tag", "deleted")
PROMPT_VERSION_TAG_SET = Event("prompt_version_tag", "set")
PROMPT_VERSION_TAG_DELETED = Event("prompt_version_tag", "deleted")
PROMPT_ALIAS_CREATED = Event("prompt_alias", "created")
PROMPT_ALIAS_DELETED = Event("prompt_alias", "deleted")
BUDGET_POLICY_EXCEEDED = Event("budget_policy", "exceeded")

# What `webhooks/{id}/test` sends: MLflow's example payloads (`mlflow.webhooks.types`), word for word.
EXAMPLES: dict[Event, dict[str, Any]] = {
    REGISTERED_MODEL_CREATED: {
        "name": "example_model",
        "tags": {"example_key": "example_value"},
        "description": "An example registered model",
    },
    MODEL_VERSION_CREATED: {
        "name": "example_model",
        "version": "1",
        "source": "models:/123",
        "run_id": "abcd1234abcd5678",
        "tags": {"example_key": "example_value"},
        "description": "An example model version",
    },
    MODEL_VERSION_TAG_SET: {"name": "example_model", "version": "1", "key": "example_key", "value": "example_value"},
    MODEL_VERSION_TAG_DELETED: {"name": "example_model", "version": "1", "key": "example_key"},
    MODEL_VERSION_ALIAS_CREATED: {"name": "example_model", "alias": "example_alias", "version": "1"},
    MODEL_VERSION_ALIAS_DELETED: {"name": "example_model", "alias": "example_alias"},
    PROMPT_CREATED: {
        "name": "example_prompt",
        "tags": {"example_key": "example_value"},
        "description": "An example prompt",
    },
    PROMPT_VERSION_CREATED: {
        "name": "example_prompt",
        "version": "1",
        "template": "Hello {{name}}!",
        "tags": {"example_key": "example_value"},
        "description": "An example prompt version",
    },
    PROMPT_TAG_SET: {"name": "example_prompt", "key": "example_key", "value": "example_value"},
    PROMPT_TAG_DELETED: {"name": "example_prompt", "key": "example_key"},
    PROMPT_VERSION_TAG_SET: {"name": "example_prompt", "version": "1", "key": "example_key", "value": "example_value"},
    PROMPT_VERSION_TAG_DELETED: {"name": "example_prompt", "version": "1", "key": "example_key"},
    PROMPT_ALIAS_CREATED: {"name": "example_prompt", "alias": "example_alias", "version": "1"},
    PROMPT_ALIAS_DELETED: {"name": "example_prompt", "alias": "example_alias"},
    BUDGET_POLICY_EXCEEDED: {
        "budget_policy_id": "bp-abc123",
        "budget_unit": "USD",
        "budget_amount": 100.0,
        "current_spend": 105.5,
        "duration_unit": "MONTHS",
        "duration_value": 1,
        "target_scope": "ENDPOINT",
        "workspace": "default",
        "target_value": "ep-abc123",
        "window_start": 1704067200000,
    },
}


@dataclass(frozen=True)
class Occurrence:
    """Something that happened in the registry: the `data` MLflow sends for it, and its event. When `model`
    is set, the event depends on whether that registered model is a prompt, which is read after the change
    (as MLflow's server does): `prompt_event` if it is, else `event` (None: no event)."""

    data: dict[str, Any]
    event: Event | None
    prompt_event: Event | None = None
    model: str | None = None

    @property
    def candidates(self) -> list[Event]:
        return [e for e in (self.event, self.prompt_event) if e is not None]


def _tag_dict(tags: list[KeyValue]) -> dict[str, str]:
    return {tag.key: tag.value for tag in tags}  # the last value of a repeated key wins, as in MLflow


def model_created(name: str, tags: list[KeyValue], description: str | None) -> Occurrence:
    """registered_model.created, or prompt.created for a model tagged as a prompt. MLflow sends the request's
    description, "" when it had none."""
    values = _tag_dict(tags)
    if is_prompt(tags):
        shown = {k: v for k, v in values.items() if k not in (PROMPT_TAG, PROMPT_TYPE_TAG)}
        return Occurrence({"name": name, "tags": shown, "description": description or ""}, PROMPT_CREATED)
    return Occurrence({"name": name, "tags": values, "description": description or ""}, REGISTERED_MODEL_CREATED)


def version_created(version: ModelVersion, tags: list[KeyValue], description: str | None) -> Occurrence:
    """model_version.created (with the source and run the version was resolved to), or
    prompt_version.created (the template from `mlflow.prompt.text`)."""
    values = _tag_dict(tags)
    if is_prompt(tags):
        template = values.pop(PROMPT_TEXT_TAG, None)
        values.pop(PROMPT_TAG, None)
        values.pop(PROMPT_TYPE_TAG, None)
        data = {
            "name": version.name,
            "version": version.version,
            "template": template,
            "tags": values,
            "description": description or None,
        }
        return Occurrence(data, PROMPT_VERSION_CREATED)
    data = {
        "name": version.name,
        "version": version.version,
        "source": version.source,
        "run_id": version.run_id or None,
        "tags": values,
        "description": description or None,
    }
    return Occurrence(data, MODEL_VERSION_CREATED)


def model_tag_set(name: str, key: str, value: str) -> Occurrence:
    return Occurrence({"name": name, "key": key, "value": value}, None, PROMPT_TAG_SET, name)


def model_tag_deleted(name: str, key: str) -> Occurrence:
    return Occurrence({"name": name, "key": key}, None, PROMPT_TAG_DELETED, name)


def version_tag_set(name: str, version: int, key: str, value: str) -> Occurrence:
    data = {"name": name, "version": str(version), "key": key, "value": value}
    return Occurrence(data, MODEL_VERSION_TAG_SET, PROMPT_VERSION_TAG_SET, name)


def version_tag_deleted(name: str, version: int, key: str) -> Occurrence:
    data = {"name": name, "version": str(version), "key": key}
    return Occurrence(data, MODEL_VERSION_TAG_DELETED, PROMPT_VERSION_TAG_DELETED, name)


def alias_set(name: str, alias: str, version: int) -> Occurrence:
    data = {"name": name, "alias": alias, "version": str(version)}
    return Occurrence(data, MODEL_VERSION_ALIAS_CREATED, PROMPT_ALIAS_CREATED, name)


def alias_deleted(name: str, alias: str) -> Occurrence:
    return Occurrence({"name": name, "alias": alias}, MODEL_VERSION_ALIAS_DELETED, PROMPT_ALIAS_DELETED, name)

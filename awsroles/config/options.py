"""AssumeRole options passed in code, applied to the last hop of a plan (the selected
profile's role): session policy, managed policy ARNs, session tags, transitive tag keys,
source identity, and overrides of duration, session name and external id."""

from __future__ import annotations

import json
from collections.abc import Mapping

from .._untrusted import json_loads
from ..errors import InvalidConfigError
from . import validate
from .model import Plan

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

__all__ = ["ROLE_OPTIONS", "apply_role_options"]

ROLE_OPTIONS = (
    "policy",
    "policy_arns",
    "tags",
    "transitive_tag_keys",
    "source_identity",
    "duration_seconds",
    "role_session_name",
    "external_id",
)


def checked_names(value: object) -> Dict[str, Any]:
    """``value`` as a dict of role options; InvalidConfigError when it is not a mapping or
    names an option that does not exist (the values are checked when applied to a plan)."""
    if not isinstance(value, Mapping):
        raise InvalidConfigError(
            f"role_options must be a dict of AssumeRole options, got {type(value).__name__}.",
            key="role_options",
        )
    unknown = sorted(str(k) for k in value if k not in ROLE_OPTIONS)
    if unknown:
        raise InvalidConfigError(
            f"unknown role option(s) {', '.join(unknown)}; valid: {', '.join(ROLE_OPTIONS)}."
        )
    return dict(value)


def apply_role_options(plan: Plan, options: Optional[Mapping[str, Any]]) -> Plan:
    """``plan`` with ``options`` applied to its last hop (the selected profile's role)."""
    if not options:
        return plan
    options = checked_names(options)
    if not plan.hops:
        raise InvalidConfigError(
            "role options were given, but the profile assumes no role.",
            profile=plan.profile,
            key="role_arn",
        )
    last = plan.hops[-1]
    name = last.profile
    changes: Dict[str, Any] = {}
    if "policy" in options:
        changes["policy"] = _policy(options["policy"], name)
    if "policy_arns" in options:
        changes["policy_arns"] = tuple(_strings(options["policy_arns"], "policy_arns", name))
    if "tags" in options:
        changes["tags"] = _tags(options["tags"], name)
    if "transitive_tag_keys" in options:
        changes["transitive_tag_keys"] = tuple(
            _strings(options["transitive_tag_keys"], "transitive_tag_keys", name)
        )
    if "source_identity" in options:
        changes["source_identity"] = validate.source_identity(options["source_identity"], name)
    if "duration_seconds" in options:
        changes["duration_seconds"] = validate.duration(options["duration_seconds"], name, {})
    if "role_session_name" in options:
        changes["role_session_name"] = validate.session_name(options["role_session_name"], name, {})
    if "external_id" in options:
        changes["external_id"] = validate.external_id(options["external_id"], name, {})
    hops = plan.hops[:-1] + (last.replace(**changes),)
    return plan.replace(hops=hops)


def _policy(value: Any, profile: str) -> str:
    """A session policy as the JSON text STS takes; a dict is dumped."""
    if isinstance(value, Mapping):
        return json.dumps(value)
    if isinstance(value, str):
        try:
            json_loads(value)
        except ValueError:
            raise InvalidConfigError(
                "policy is not a JSON document.", profile=profile, key="policy"
            ) from None
        return value
    raise InvalidConfigError(
        "policy must be a JSON string or a dict.", profile=profile, key="policy"
    )


def _strings(value: Any, key: str, profile: str) -> List[Any]:
    if (
        isinstance(value, (str, bytes))
        or not isinstance(value, (list, tuple))
        or not all(isinstance(v, str) for v in value)
    ):
        raise InvalidConfigError(f"{key} must be a list of strings.", profile=profile, key=key)
    return list(value)


def _tags(value: Any, profile: str) -> Tuple[Any, ...]:
    pairs = list(value.items()) if isinstance(value, Mapping) else value
    if isinstance(pairs, (list, tuple)) and all(
        isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(x, str) for x in p)
        for p in pairs
    ):
        return tuple((k, v) for k, v in pairs)
    raise InvalidConfigError(
        "tags must be a dict of strings or a list of (key, value) string pairs.",
        profile=profile,
        key="tags",
    )

"""Provider objects generated from the providers' published schemas, with Hypothesis.

The emulators answer with the objects we thought of; these strategies answer with any object the published
schema allows: optional fields absent or null, enums at every value, strings of any script (and markup, and
line breaks), empty lists, integers far outside any epoch. They read an OpenAPI 3.0 component (`$ref`,
`nullable`, `allOf`/`anyOf`/`oneOf`, `enum`, `required`, `maxItems`) and generate only documented properties,
so that each example spends its size on the fields the provider really sends.

hypothesis-jsonschema would do this from a JSON Schema, but its last release (0.23.1, 2024) fails on current
Hypothesis ("'many' object has no attribute 'more'"), and the subset of OpenAPI the providers use is small.
"""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import strategies as st

# Strings as chats and mail carry them: any script, markup-looking text, line breaks, entities.
_MARKUP = st.sampled_from(["<p>", "</p>", "<br>", "<", ">", "&", "&amp;", "\n", "\r\n", " ", "@", "<b>x</b>",
                           "<anna@firma.pl>", "Łódź", "Ольга", "+48 601 234 567", "\u200b", "\x00"])
TEXT = st.lists(st.one_of(st.text(max_size=12), _MARKUP), max_size=6).map("".join)
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT)
ANY_JSON = st.recursive(JSON_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                              st.dictionaries(TEXT, inner, max_size=3)),
                        max_leaves=6)

# Strings whose format the schema gives as numbers or bytes (Google's discovery formats).
_FORMATTED = {
    "int64": st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    "uint64": st.integers(min_value=0, max_value=2**64 - 1).map(str),
    "int32": st.integers(min_value=-(2**31), max_value=2**31 - 1).map(str),
    "byte": st.binary(max_size=64).map(lambda b: base64.urlsafe_b64encode(b).decode()),
}


class SchemaData:
    """Strategies for the components of one OpenAPI document."""

    def __init__(self, components: dict[str, Any], *, depth: int = 3, max_items: int = 3,
                 known: dict[str, st.SearchStrategy[Any]] | None = None):
        self.components = components
        self.depth = depth  # how many times one component may nest inside itself
        self.max_items = max_items
        # "component.property" -> values the provider really sends where the schema says only "a string" (a part's
        # type, an author's type): drawn as often as the schema's own, so each example meets them.
        self.known = known or {}

    def of(self, name: str, **overrides: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        """Objects of component `name`. overrides: property name -> strategy, for the component's own top-level
        properties (to make an id present, say)."""
        strategy = self._node({"$ref": f"#/components/schemas/{name}"}, ())
        if not overrides:
            return strategy
        return st.tuples(strategy, st.fixed_dictionaries(overrides)).map(
            lambda pair: {**pair[0], **pair[1]} if isinstance(pair[0], dict) else pair[0])

    def _node(self, node: Any, seen: tuple[str, ...]) -> st.SearchStrategy[Any]:
        if not isinstance(node, dict):
            return ANY_JSON
        strategy = self._plain(node, seen)
        return st.one_of(st.none(), strategy) if node.get("nullable") else strategy

    def _plain(self, node: dict[str, Any], seen: tuple[str, ...]) -> st.SearchStrategy[Any]:
        if "$ref" in node:
            ref = node["$ref"].rsplit("/", 1)[-1]
            if seen.count(ref) >= self.depth:
                return st.nothing()
            return self._node(self.components[ref], (*seen, ref))
        if "enum" in node:
            return st.sampled_from(node["enum"])
        for key in ("oneOf", "anyOf"):
            if key in node:
                return st.one_of([self._node(sub, seen) for sub in node[key]])
        if "allOf" in node:
            return self._object(_merge_all_of(node["allOf"], self.components), seen)
        kind = node.get("type")
        if kind == "object" or "properties" in node:
            return self._object(node, seen)
        if kind == "array":
            items = self._node(node.get("items", {}), seen)
            if items.is_empty:  # a recursion cut short: an empty list is what the schema still allows
                return st.just([])
            return st.lists(items, max_size=min(node.get("maxItems", 99), self.max_items))
        if kind == "string":
            return _FORMATTED.get(node.get("format"), TEXT)
        if kind == "integer":
            return st.integers(min_value=node.get("minimum"), max_value=node.get("maximum"))
        if kind == "number":
            return st.floats(allow_nan=False, allow_infinity=False)
        if kind == "boolean":
            return st.booleans()
        return ANY_JSON

    def _object(self, node: dict[str, Any], seen: tuple[str, ...]) -> st.SearchStrategy[Any]:
        properties = node.get("properties") or {}
        required = set(node.get("required") or ())
        strategies = {name: self._node(sub, seen) for name, sub in properties.items()}
        component = seen[-1] if seen else ""
        for name in strategies:
            if f"{component}.{name}" in self.known:
                strategies[name] = st.one_of(self.known[f"{component}.{name}"], strategies[name])
        strategies = {name: s for name, s in strategies.items() if name in required or not s.is_empty}
        extra = node.get("additionalProperties")
        fixed = st.fixed_dictionaries(
            {name: s for name, s in strategies.items() if name in required},
            optional={name: s for name, s in strategies.items() if name not in required},
        )
        if isinstance(extra, dict) and not properties:
            return st.dictionaries(TEXT, self._node(extra, seen), max_size=3)
        return fixed


def _merge_all_of(parts: list[Any], components: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    for part in parts:
        while isinstance(part, dict) and "$ref" in part:
            part = components[part["$ref"].rsplit("/", 1)[-1]]
        if isinstance(part, dict) and "allOf" in part:
            part = _merge_all_of(part["allOf"], components)
        if isinstance(part, dict):
            merged["properties"].update(part.get("properties") or {})
            merged["required"] += list(part.get("required") or ())
    return merged

#!/usr/bin/env python3
"""Generate mocks/spec/b2b-pa.json: the structural extract of SEND's B2B OpenAPI bundle
that the mock validates requests (and its tests validate responses) against.

Usage: python3 scripts/gen_spec_extract.py [BUNDLE.yaml]
BUNDLE defaults to ../shared/spec/pn-delivery/api-external-b2b-pa-bundle.yaml.

Kept: paths with their operations (operationId, parameters, request body schema,
response status codes and schemas) and the component schemas and parameters, with
only the keywords that constrain data (type, properties, required, enum, pattern,
lengths, item counts, bounds, additionalProperties, $ref and the combinators). Dropped:
every description, summary, title, example and extension: no prose is kept.

Two rewrites make the OpenAPI 3.0 schemas valid JSON Schema 2020-12:
- `nullable: true` becomes a type list with "null"; a boolean `exclusiveMaximum` /
  `exclusiveMinimum` becomes the numeric form;
- the timeline details union (TimelineElementDetails*) is a `oneOf` of schemas that
  are not mutually exclusive (most fields are optional): it becomes `anyOf`, which is
  what the production serialiser's single merged class amounts to.
"""
import json
import os
import sys

import yaml

KEEP = {
    "type", "format", "properties", "required", "enum", "pattern", "maxLength",
    "minLength", "minItems", "maxItems", "minimum", "maximum", "exclusiveMaximum",
    "exclusiveMinimum", "additionalProperties", "items", "$ref", "oneOf", "anyOf",
    "allOf", "nullable", "uniqueItems", "default",
}


def clean(node, name=None):
    if isinstance(node, list):
        return [clean(n) for n in node]
    if not isinstance(node, dict):
        return node
    outn = {}
    for k, v in node.items():
        if k not in KEEP:
            continue
        if k == "properties":
            outn[k] = {p: clean(s) for p, s in (v or {}).items()}
        elif k in ("items", "additionalProperties") and isinstance(v, dict):
            outn[k] = clean(v)
        elif k in ("oneOf", "anyOf", "allOf"):
            outn[k] = [clean(s) for s in v]
        else:
            outn[k] = v
    if outn.pop("nullable", False) and "type" in outn:
        outn["type"] = [outn["type"], "null"]
    for excl, bound in (("exclusiveMaximum", "maximum"), ("exclusiveMinimum", "minimum")):
        if isinstance(outn.get(excl), bool):
            if outn[excl] and bound in outn:
                outn[excl] = outn.pop(bound)
            else:
                outn.pop(excl)
    if name and name.startswith("TimelineElementDetails") and "oneOf" in outn:
        outn["anyOf"] = outn.pop("oneOf")
    return outn


def main():
    bundle = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "..", "shared", "spec", "pn-delivery",
        "api-external-b2b-pa-bundle.yaml")
    out = os.path.join(os.path.dirname(__file__), "..", "mocks", "spec", "b2b-pa.json")
    with open(bundle, encoding="utf-8") as f:
        doc = yaml.safe_load(f)

    components = doc.get("components", {})
    schemas = {n: clean(s, n) for n, s in components.get("schemas", {}).items()}
    params = {}
    for n, p in components.get("parameters", {}).items():
        params[n] = {k: (clean(v) if k == "schema" else v)
                     for k, v in p.items() if k in ("name", "in", "required", "schema")}


    def param(p):
        if "$ref" in p:
            return {"$ref": p["$ref"]}
        return {k: (clean(v) if k == "schema" else v)
                for k, v in p.items() if k in ("name", "in", "required", "schema")}


    paths = {}
    for path, item in doc.get("paths", {}).items():
        ops = {}
        for method, op in item.items():
            if method not in ("get", "post", "put", "delete", "patch"):
                continue
            entry = {"operationId": op.get("operationId"),
                     "parameters": [param(p) for p in item.get("parameters", []) + op.get("parameters", [])]}
            body = op.get("requestBody")
            if body:
                content = body.get("content", {})
                media = next(iter(content.values()), {})
                entry["requestBody"] = {"required": body.get("required", False),
                                        "schema": clean(media.get("schema", {}))}
            responses = {}
            for status, r in op.get("responses", {}).items():
                content = r.get("content", {})
                if content:
                    ctype, media = next(iter(content.items()))
                    responses[str(status)] = {"contentType": ctype, "schema": clean(media.get("schema", {}))}
                else:
                    responses[str(status)] = {}
            entry["responses"] = responses
            ops[method] = entry
        paths[path] = ops

    extract = {
        "source": "pagopa/pn-delivery docs/openapi/api-external-b2b-pa-bundle.yaml (structural extract)",
        "paths": paths,
        "components": {"schemas": schemas, "parameters": params},
    }
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(extract, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    print(f"{len(paths)} paths, {len(schemas)} schemas written to {out}")


if __name__ == "__main__":
    main()

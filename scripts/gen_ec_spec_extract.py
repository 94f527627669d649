#!/usr/bin/env python3
"""Generate mocks/spec/pn-ec.json: the structural extract of the External Channel and
consolidator OpenAPI files (pagopa/pn-ec docs/openapi) that the mock's provider side
validates requests (and its tests validate responses and pushed events) against.

Usage: python3 scripts/gen_ec_spec_extract.py [FOLDER]
FOLDER defaults to ../shared/spec/pn-ec and holds api-internal-v1.yaml,
consolidatore-v1.yml, api-consolidatore-ingress-v1.yaml and the schema files they refer to.

The files refer to each other's schemas; in the extract every schema is named
`<file tag>.<name>` (`ec`, `consolidatore`, `ingress`, `digital`, `paper`, `errors`) and
every `$ref` points inside the one document. Parameters and responses are inlined. What is
kept of each schema is what gen_spec_extract.py keeps (no prose).

Two of the official schemas cannot be met as JSON Schema, and are read as the production
code (generated Java classes) reads them:
- an `allOf` chain is flattened as class inheritance: a later member's property replaces an
  earlier one's (the courtesy e-mail request narrows `channel` to EMAIL, which the legal
  request it extends limits to PEC, REM or SERCQ);
- `Problem` requires `type` but does not list it while forbidding other properties: the
  extract lists it as a string.
"""
import json
import os
import sys

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from gen_spec_extract import clean  # noqa: E402  (the same cleaning as the B2B extract)

folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "spec", "pn-ec")
out = os.path.join(os.path.dirname(__file__), "..", "mocks", "spec", "pn-ec.json")

TAGS = {
    "api-internal-v1.yaml": "ec",
    "consolidatore-v1.yml": "consolidatore",
    "api-consolidatore-ingress-v1.yaml": "ingress",
    "schemas-digital-v1.yaml": "digital",
    "schemas-paper-v1.1.yaml": "paper",
    "schemas-pn-errors-v1.yaml": "errors",
}
APIS = ["api-internal-v1.yaml", "consolidatore-v1.yml", "api-consolidatore-ingress-v1.yaml"]

docs = {}
for name in TAGS:
    with open(os.path.join(folder, name), encoding="utf-8") as f:
        docs[name] = yaml.safe_load(f)


def rewrite(node, file):
    """Points every schema $ref at `#/components/schemas/<tag>.<name>`."""
    if isinstance(node, list):
        return [rewrite(n, file) for n in node]
    if not isinstance(node, dict):
        return node
    outn = {}
    for k, v in node.items():
        if k == "$ref" and isinstance(v, str):
            target, _, pointer = v.partition("#")
            target = os.path.basename(target) if target else file
            name = pointer.rsplit("/", 1)[-1]
            outn[k] = f"#/components/schemas/{TAGS[target]}.{name}"
        else:
            outn[k] = rewrite(v, file)
    return outn


def resolve(node, file, kind):
    """Inlines a `$ref` to components/<kind> (parameters, responses)."""
    ref = node.get("$ref")
    if not ref:
        return node, file
    target, _, pointer = ref.partition("#")
    target = os.path.basename(target) if target else file
    name = pointer.rsplit("/", 1)[-1]
    return docs[target]["components"][kind][name], target


schemas = {}
for file, tag in TAGS.items():
    for n, s in docs[file].get("components", {}).get("schemas", {}).items():
        schemas[f"{tag}.{n}"] = clean(rewrite(s, file), n)


def flatten(name, seen=()):
    """An allOf chain as one object schema, later members winning (see the docstring)."""
    schema = schemas[name]
    if "allOf" not in schema or name in seen:
        return schema
    props, required, extra = {}, [], {}
    for member in schema["allOf"]:
        if "$ref" in member:
            member = flatten(member["$ref"].rsplit("/", 1)[-1], seen + (name,))
        props.update(member.get("properties", {}))
        required += [r for r in member.get("required", []) if r not in required]
        if "additionalProperties" in member:
            extra["additionalProperties"] = member["additionalProperties"]
    flat = {"type": "object", "properties": props, **extra}
    if required:
        flat["required"] = required
    return flat


for name in list(schemas):
    schemas[name] = flatten(name)
schemas["errors.Problem"]["properties"].setdefault("type", {"type": "string"})

paths = {}
for file in APIS:
    doc = docs[file]
    for path, item in doc.get("paths", {}).items():
        ops = {}
        for method, op in item.items():
            if method not in ("get", "post", "put", "delete", "patch"):
                continue
            params = []
            for p in item.get("parameters", []) + op.get("parameters", []):
                p, pfile = resolve(p, file, "parameters")
                params.append({k: (clean(rewrite(v, pfile)) if k == "schema" else v)
                               for k, v in p.items() if k in ("name", "in", "required", "schema")})
            entry = {"operationId": op.get("operationId"), "parameters": params}
            body = op.get("requestBody")
            if body:
                body, bfile = resolve(body, file, "requestBodies")
                media = next(iter(body.get("content", {}).values()), {})
                entry["requestBody"] = {"required": body.get("required", False),
                                        "schema": clean(rewrite(media.get("schema", {}), bfile))}
            responses = {}
            for status, r in op.get("responses", {}).items():
                r, rfile = resolve(r, file, "responses")
                content = r.get("content", {})
                if content:
                    ctype, media = next(iter(content.items()))
                    responses[str(status)] = {"contentType": ctype,
                                              "schema": clean(rewrite(media.get("schema", {}), rfile))}
                else:
                    responses[str(status)] = {}
            entry["responses"] = responses
            ops[method] = entry
        paths[path] = ops

extract = {
    "source": "pagopa/pn-ec docs/openapi: api-internal-v1, consolidatore-v1, api-consolidatore-ingress-v1 and their schema files (structural extract)",
    "paths": paths,
    "components": {"schemas": schemas, "parameters": {}},
}
with open(out, "w", encoding="utf-8") as f:
    json.dump(extract, f, indent=1, sort_keys=True, ensure_ascii=False)
    f.write("\n")
print(f"{len(paths)} paths, {len(schemas)} schemas written to {out}")

//! Older versions of the API, mapped from the current one as production's versioning
//! adapters do: a current view is projected onto an older version's schema, as the
//! older version's generated classes would serialize it. What the older schema does not
//! know is left out: properties it does not declare, list items it cannot hold
//! (timeline categories and statuses added later), the alternatives of a union that do
//! not fit; a status the older enum lacks becomes the last one it has.

use serde_json::{Map, Value};

use crate::spec::Spec;

/// `value` projected onto the named component schema.
pub fn project(spec: &Spec, value: Value, schema: &str) -> Value {
    let root = serde_json::json!({ "$ref": format!("#/components/schemas/{schema}") });
    let mut v = onto(spec, value, &root);
    settle_status(spec, &mut v, schema);
    v
}

/// The properties an object schema declares, its `allOf` parts' included (`None`: it
/// declares none), and whether it admits others (`additionalProperties` a schema).
fn declared(spec: &Spec, schema: &Value, into: &mut Option<Map<String, Value>>) -> bool {
    let schema = spec.resolve(schema);
    let mut open = schema["additionalProperties"].is_object();
    if let Some(p) = schema["properties"].as_object() {
        let map = into.get_or_insert_with(Map::new);
        for (k, v) in p {
            map.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        open |= declared(spec, part, into);
    }
    open
}

/// `value` projected onto `schema` (any schema of the contract).
pub fn project_onto(spec: &Spec, value: Value, schema: &Value) -> Value {
    onto(spec, value, schema)
}

fn onto(spec: &Spec, value: Value, schema: &Value) -> Value {
    let schema = spec.resolve(schema);
    if let Some(alts) = schema["anyOf"].as_array().or(schema["oneOf"].as_array()) {
        // The first alternative the projected value fits; else the first one.
        let mut first = None;
        for alt in alts {
            let p = onto(spec, value.clone(), alt);
            if spec.accepts(alt, &p) {
                return p;
            }
            first.get_or_insert(p);
        }
        return first.unwrap_or(value);
    }
    match value {
        Value::Object(map) => {
            let mut props = None;
            let open = declared(spec, schema, &mut props);
            let Some(props) = props else {
                return Value::Object(map);
            };
            Value::Object(
                map.into_iter()
                    .filter_map(|(k, v)| match props.get(&k) {
                        Some(sub) => Some((k, onto(spec, v, sub))),
                        None if open => Some((k, v)),
                        None => None,
                    })
                    .collect(),
            )
        }
        Value::Array(items) => {
            let item_schema = &schema["items"];
            if item_schema.is_null() {
                return Value::Array(items);
            }
            Value::Array(
                items
                    .into_iter()
                    .map(|i| onto(spec, i, item_schema))
                    .filter(|i| spec.accepts(item_schema, i))
                    .collect(),
            )
        }
        other => other,
    }
}

/// A request sent in an older version, in the current form: v1's single `payment` of a
/// recipient becomes its `payments`; before v2.3, `paFee` and `vat` default to 100 and 22.
pub fn upgrade_request(version: &str, mut req: Value) -> Value {
    if version == "1" {
        for r in req["recipients"].as_array_mut().into_iter().flatten() {
            if let Some(Value::Object(p)) = r.as_object_mut().and_then(|m| m.remove("payment")) {
                let mut pagopa = Map::new();
                for k in ["noticeCode", "creditorTaxId"] {
                    if let Some(v) = p.get(k) {
                        pagopa.insert(k.into(), v.clone());
                    }
                }
                pagopa.insert("applyCost".into(), Value::Bool(true));
                r["payments"] = serde_json::json!([{ "pagoPa": pagopa }]);
            }
        }
    }
    if matches!(version, "1" | "2.1") {
        for (field, default) in [("paFee", 100), ("vat", 22)] {
            if req[field].is_null() {
                req[field] = Value::from(default);
            }
        }
    }
    req
}

/// A notification status the older enum lacks becomes the last status of the kept history.
fn settle_status(spec: &Spec, v: &mut Value, schema: &str) {
    let Some(status) = v.get("notificationStatus").cloned() else {
        return;
    };
    let probe = serde_json::json!({ "$ref": format!("#/components/schemas/{schema}") });
    let status_schema = spec
        .resolve(&probe)
        .pointer("/allOf/1/properties/notificationStatus")
        .cloned();
    let Some(status_schema) = status_schema else {
        return;
    };
    if spec.accepts(&status_schema, &status) {
        return;
    }
    if let Some(last) = v["notificationStatusHistory"]
        .as_array()
        .and_then(|h| h.last())
        .map(|h| h["status"].clone())
    {
        v["notificationStatus"] = last;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn elements_an_older_version_cannot_hold_are_left_out() {
        let spec = Spec::embedded();
        let element = |id: &str, category: &str| {
            json!({ "elementId": id, "timestamp": "2026-03-02T08:00:00Z", "category": category,
                    "legalFactsIds": [], "details": { "recIndex": 0 }, "ingestionTimestamp": "2026-03-02T08:00:00Z" })
        };
        let timeline = json!([
            element("a", "REQUEST_ACCEPTED"),
            element("b", "ANALOG_WORKFLOW_RECIPIENT_DECEASED"),
        ]);
        let schema = json!({ "type": "array", "items": { "$ref": "#/components/schemas/TimelineElementV20" } });
        let old = onto(spec, timeline.clone(), &schema);
        let ids: Vec<&str> = old
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["elementId"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["a"], "a category added after v2.0 is dropped");
        // A property v2.0's element does not declare is not serialized.
        assert!(old[0].get("ingestionTimestamp").is_none());
        assert!(spec.accepts(&schema, &old));
        let current = json!({ "type": "array", "items": { "$ref": "#/components/schemas/TimelineElementV28" } });
        assert_eq!(onto(spec, timeline, &current).as_array().unwrap().len(), 2);
    }
}

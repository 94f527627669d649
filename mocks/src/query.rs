//! A request's query parameters, decoded straight from its URI. A request-status read
//! is the most frequent request a client makes, and axum's `Query` into a map
//! (serde_urlencoded behind serde_path_to_error, a map and two strings a parameter)
//! cost it more than finding the notification did.

use std::borrow::Cow;

use smallvec::SmallVec;

/// The parameters in the order they came, borrowed from the URI unless the query has
/// an escape (`%20`, `+`) to decode. A name given twice reads as its last value, as a
/// map filled in order would keep it.
#[derive(Debug, Default)]
pub struct QueryParams<'a>(SmallVec<[(Cow<'a, str>, Cow<'a, str>); 4]>);

impl<'a> QueryParams<'a> {
    /// Decodes `application/x-www-form-urlencoded` text; `None` (no `?`) has no parameters.
    pub fn parse(query: Option<&'a str>) -> QueryParams<'a> {
        let Some(q) = query else {
            return QueryParams::default();
        };
        // Without `%` or `+` decoding changes nothing, and the usual query (an id, a
        // token) has neither: split it as form_urlencoded would, without its per-byte
        // decoding passes.
        if q.bytes().any(|b| b == b'%' || b == b'+') {
            return QueryParams(form_urlencoded::parse(q.as_bytes()).collect());
        }
        QueryParams(
            q.split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (Cow::Borrowed(name), Cow::Borrowed(value))
                })
                .collect(),
        )
    }

    /// The value of `name`, the last one if it came more than once.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FastMap;

    /// What axum's `Query<HashMap<String, String>>` gave for the same text.
    fn as_a_map(q: &str) -> FastMap<String, String> {
        serde_urlencoded::from_str(q).unwrap()
    }

    #[test]
    fn parameters_read_as_a_map_of_the_query_would() {
        for q in [
            "notificationRequestId=UkRNVC1IWkFVLVhHUVAtMjAyNjEyLUMtMQ==",
            "paProtocolNumber=P%2F2026%201&idempotenceToken=a+b",
            "a=1&a=2&b=&c",
            "x=%E2%82%AC&y=%ZZ&z=caf%C3%A9",
            "lastEventId=0001&&=v",
            "k=v=w&=&&novalue&x=1",
            "",
        ] {
            let params = QueryParams::parse(Some(q));
            let map = as_a_map(q);
            for name in [
                "notificationRequestId",
                "paProtocolNumber",
                "idempotenceToken",
            ]
            .into_iter()
            .chain(["a", "b", "c", "x", "y", "z", "lastEventId", "", "absent"])
            {
                assert_eq!(
                    params.get(name),
                    map.get(name).map(String::as_str),
                    "{name} in {q:?}"
                );
            }
        }
        assert_eq!(QueryParams::parse(None).get("a"), None);
    }

    #[test]
    fn plain_values_are_borrowed_from_the_uri() {
        let q = QueryParams::parse(Some("notificationRequestId=abc&t=a%20b"));
        assert!(matches!(q.0[0].1, Cow::Borrowed("abc")));
        assert_eq!(q.get("t"), Some("a b"));
    }
}

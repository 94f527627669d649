//! `application/problem+json` errors (`Problem`, `ProblemError` in the bundle).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProblemError {
    pub code: String,
    pub element: String,
    pub detail: String,
}

impl ProblemError {
    pub fn new(code: &str, element: &str, detail: &str) -> ProblemError {
        ProblemError {
            code: code.into(),
            element: element.into(),
            detail: detail.into(),
        }
    }
}

/// A Problem response; boxed so that `Result<_, Problem>` stays small.
#[derive(Debug, Clone)]
pub struct Problem(pub Box<ProblemBody>);

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProblemBody {
    pub status: u16,
    pub title: String,
    pub detail: String,
    pub trace_id: String,
    pub timestamp: String,
    pub errors: Vec<ProblemError>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: &str, errors: Vec<ProblemError>) -> Problem {
        let errors = if errors.is_empty() {
            vec![ProblemError::new(generic_code(status), "", detail)]
        } else {
            errors
        };
        Problem(Box::new(ProblemBody {
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            detail: detail.to_string(),
            trace_id: format!("Root=1-{}", uuid::Uuid::new_v4().simple()),
            timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            errors,
        }))
    }

    pub fn bad_request(errors: Vec<ProblemError>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "Bad request: see errors", errors)
    }

    pub fn not_found(what: &str) -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            &format!("{what} not found"),
            vec![ProblemError::new(
                "PN_GENERIC_NOT_FOUND",
                "",
                &format!("{what} not found"),
            )],
        )
    }
}

fn generic_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "PN_GENERIC_INVALIDPARAMETER",
        404 => "PN_GENERIC_NOT_FOUND",
        409 => "PN_GENERIC_INVALIDPARAMETER_DUPLICATED",
        _ => "PN_GENERIC_ERROR",
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&*self.0).expect("problem serialises");
        let mut r = (status, body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        r
    }
}

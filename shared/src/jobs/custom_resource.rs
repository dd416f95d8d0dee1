//! CloudFormation custom resources (the deploy function, issue 13): the request
//! CloudFormation sends, the response it waits for at the request's pre-signed
//! `ResponseURL`, and [`answer`], which runs a handler and always PUTs that response.
//!
//! CloudFormation waits for the PUT, not for the Lambda's return value: a handler that
//! errs, panics or runs out of time without answering leaves the stack "in progress"
//! until the resource's `ServiceTimeout` (an hour by default). So [`answer`] catches the
//! panic, stops the handler at the run's deadline (the invocation's deadline less a
//! margin for the PUT itself) and answers FAILED with the reason in every such case.
//!
//! The response body is at most 4096 bytes (the reason is cut to fit); the
//! `PhysicalResourceId` is the request's on Update and Delete (a different one would make
//! CloudFormation treat the update as a replacement and delete the "old" resource), and a
//! stable name from the stack and the logical id on Create, including a failed Create
//! (the rollback's Delete then names it).

use std::collections::BTreeMap;
use std::time::Duration;

use futures::FutureExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The response body's limit, in bytes.
pub const MAX_RESPONSE_BYTES: usize = 4096;
/// The reason's own limit: room for the other fields and the data.
pub const MAX_REASON_BYTES: usize = 2048;
/// How long the PUT to the ResponseURL may take, all attempts included: the run's
/// deadline is the invocation's less this.
pub const ANSWER_MARGIN: Duration = Duration::from_secs(15);
/// Attempts of the PUT (S3 answers 5xx now and then).
const PUT_ATTEMPTS: u32 = 3;
const PUT_TIMEOUT: Duration = Duration::from_secs(4);

/// Create, Update or Delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

/// What CloudFormation sends (crpg-ref-requests). `ResourceProperties` values are strings
/// (CloudFormation turns numbers into strings) and include the `ServiceToken`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub request_type: RequestType,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub resource_type: String,
    pub logical_resource_id: String,
    /// Update and Delete only.
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    #[serde(default)]
    pub resource_properties: Value,
    /// Update only.
    #[serde(default)]
    pub old_resource_properties: Option<Value>,
}

impl Request {
    /// The physical id to answer with: the request's (Update, Delete), else a stable one
    /// from the stack's name and the logical id (the same on a retried Create).
    pub fn physical_resource_id(&self) -> String {
        if let Some(id) = self
            .physical_resource_id
            .as_deref()
            .filter(|s| !s.is_empty())
        {
            return id.to_string();
        }
        // arn:aws:cloudformation:region:account:stack/NAME/uuid
        let stack = self.stack_id.split('/').nth(1).unwrap_or("stack");
        format!("{stack}-{}", self.logical_resource_id)
    }

    /// A resource property as a string (CloudFormation sends strings).
    pub fn property(&self, name: &str) -> Option<&str> {
        self.resource_properties.get(name).and_then(Value::as_str)
    }
}

/// What a handler reports on success: the data (readable with `!GetAtt`) and, when the
/// resource is really a new one, another physical id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub data: BTreeMap<String, String>,
    pub physical_resource_id: Option<String>,
}

impl Outcome {
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.data.insert(key.to_string(), value.into());
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Success,
    Failed,
}

/// The JSON body PUT to the ResponseURL (crpg-ref-responses).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub data: BTreeMap<String, String>,
}

impl Response {
    pub fn new(request: &Request, result: Result<Outcome, String>) -> Self {
        let physical_default = request.physical_resource_id();
        let (status, reason, physical, data) = match result {
            Ok(outcome) => (
                Status::Success,
                None,
                outcome.physical_resource_id.unwrap_or(physical_default),
                outcome.data,
            ),
            Err(reason) => (
                Status::Failed,
                Some(truncate(&reason, MAX_REASON_BYTES)),
                physical_default,
                BTreeMap::new(),
            ),
        };
        let mut response = Self {
            status,
            reason,
            physical_resource_id: physical,
            stack_id: request.stack_id.clone(),
            request_id: request.request_id.clone(),
            logical_resource_id: request.logical_resource_id.clone(),
            data,
        };
        // The body's hard limit: drop the data, then cut the reason further.
        if response.body().len() > MAX_RESPONSE_BYTES {
            response.data.clear();
        }
        while response.body().len() > MAX_RESPONSE_BYTES {
            let reason = response.reason.take().unwrap_or_default();
            response.reason = Some(truncate(&reason, reason.len() / 2));
        }
        response
    }

    pub fn body(&self) -> String {
        serde_json::to_string(self).expect("a response serialises")
    }
}

/// `text` cut to at most `max` bytes on a character boundary, marked when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// A panic's message.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Runs `handler` until `deadline` (catching a panic), then PUTs the response to the
/// request's ResponseURL, whatever happened. Returns the response sent, or an error when
/// every PUT attempt failed (the invocation should fail then, so Lambda retries it and
/// the error alarm sees it).
pub async fn answer<F>(
    http: &reqwest::Client,
    request: &Request,
    deadline: tokio::time::Instant,
    handler: F,
) -> Result<Response, String>
where
    F: std::future::Future<Output = Result<Outcome, String>>,
{
    let guarded = std::panic::AssertUnwindSafe(handler).catch_unwind();
    let result = match tokio::time::timeout_at(deadline, guarded).await {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => Err(format!(
            "{} {}: the handler panicked: {}",
            request.resource_type,
            request_type_name(request.request_type),
            panic_message(panic.as_ref())
        )),
        Err(_) => Err(format!(
            "{} {}: did not finish before the function's deadline (less {} s to answer); \
             see the deploy function's log",
            request.resource_type,
            request_type_name(request.request_type),
            ANSWER_MARGIN.as_secs()
        )),
    };
    if let Err(reason) = &result {
        tracing::error!(
            resource = %request.logical_resource_id,
            request = ?request.request_type,
            %reason,
            "custom resource FAILED"
        );
    } else {
        tracing::info!(
            resource = %request.logical_resource_id,
            request = ?request.request_type,
            "custom resource SUCCESS"
        );
    }
    let response = Response::new(request, result);
    put_response(http, &request.response_url, &response).await?;
    Ok(response)
}

fn request_type_name(t: RequestType) -> &'static str {
    match t {
        RequestType::Create => "Create",
        RequestType::Update => "Update",
        RequestType::Delete => "Delete",
    }
}

/// PUTs the body to the pre-signed URL with an empty content type (the URL is signed
/// without one), retrying a failure or a non-2xx answer.
pub async fn put_response(
    http: &reqwest::Client,
    url: &str,
    response: &Response,
) -> Result<(), String> {
    let body = response.body();
    let mut last = String::new();
    for attempt in 1..=PUT_ATTEMPTS {
        let sent = http
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, "")
            .body(body.clone())
            .timeout(PUT_TIMEOUT)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("HTTP {}", r.status()),
            // Without the URL: its signature is not for the logs.
            Err(e) => last = crate::adapters::http_retry::error_chain(&e.without_url()),
        }
        tracing::warn!(attempt, error = %last, "PUT to the ResponseURL failed");
        if attempt < PUT_ATTEMPTS {
            tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
        }
    }
    Err(format!(
        "could not answer CloudFormation after {PUT_ATTEMPTS} attempts: {last}"
    ))
}

/// The request in an invocation's payload. A payload that is not one but carries a
/// ResponseURL (and the ids) is answered FAILED by the caller with this error.
pub fn parse_request(payload: &Value) -> Result<Request, String> {
    serde_json::from_value(payload.clone())
        .map_err(|e| format!("not a CloudFormation custom-resource request: {e}"))
}

/// A request built from whatever a malformed payload has, to answer it FAILED when it has
/// a ResponseURL at all.
pub fn salvage_request(payload: &Value) -> Option<Request> {
    let s = |k: &str| payload.get(k).and_then(Value::as_str).map(str::to_string);
    Some(Request {
        request_type: match s("RequestType").as_deref() {
            Some("Delete") => RequestType::Delete,
            Some("Update") => RequestType::Update,
            _ => RequestType::Create,
        },
        response_url: s("ResponseURL")?,
        stack_id: s("StackId").unwrap_or_default(),
        request_id: s("RequestId").unwrap_or_default(),
        resource_type: s("ResourceType").unwrap_or_default(),
        logical_resource_id: s("LogicalResourceId").unwrap_or_default(),
        physical_resource_id: s("PhysicalResourceId"),
        resource_properties: Value::Null,
        old_resource_properties: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(kind: &str, physical: Option<&str>) -> Request {
        let mut v = json!({
            "RequestType": kind,
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:tft-deploy-prod",
            "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/tft-trader/5b918d10-0000-11ef-8000-0a1b2c3d4e5f",
            "RequestId": "a2c4f0c8-1111-2222-3333-444455556666",
            "LogicalResourceId": "Migrations",
            "ResourceType": "Custom::Migrations",
            "ResourceProperties": {"ServiceToken": "arn:...", "CodeVersion": "3"}
        });
        if let Some(p) = physical {
            v["PhysicalResourceId"] = json!(p);
        }
        parse_request(&v).unwrap()
    }

    #[test]
    fn the_physical_id_is_stable_and_the_request_one_is_kept() {
        let create = request("Create", None);
        assert_eq!(create.physical_resource_id(), "tft-trader-Migrations");
        assert_eq!(create.property("CodeVersion"), Some("3"));
        let update = request("Update", Some("kept-id"));
        assert_eq!(update.physical_resource_id(), "kept-id");
        let failed = Response::new(&update, Err("boom".into()));
        assert_eq!(failed.physical_resource_id, "kept-id");
        assert_eq!(failed.status, Status::Failed);
    }

    #[test]
    fn the_body_is_the_documented_shape_and_never_over_4096_bytes() {
        let r = request("Create", None);
        let ok = Response::new(&r, Ok(Outcome::default().with("Applied", "V1__a")));
        let body: Value = serde_json::from_str(&ok.body()).unwrap();
        assert_eq!(body["Status"], "SUCCESS");
        assert_eq!(body["Data"]["Applied"], "V1__a");
        assert_eq!(body["RequestId"], r.request_id);
        assert!(body.get("Reason").is_none());

        let long = "é".repeat(10_000);
        let failed = Response::new(&r, Err(long));
        assert!(failed.body().len() <= MAX_RESPONSE_BYTES);
        assert!(failed.reason.as_deref().unwrap().ends_with("..."));

        let mut big = Outcome::default();
        for i in 0..200 {
            big = big.with(&format!("Key{i}"), "x".repeat(40));
        }
        let ok = Response::new(&r, Ok(big));
        assert!(ok.body().len() <= MAX_RESPONSE_BYTES, "{}", ok.body().len());
    }

    #[test]
    fn a_malformed_payload_with_a_response_url_is_salvaged() {
        let v = json!({"RequestType": "Create", "ResponseURL": "http://x/", "RequestId": "1"});
        assert!(parse_request(&v).is_err());
        let r = salvage_request(&v).unwrap();
        assert_eq!(r.response_url, "http://x/");
        assert!(salvage_request(&json!({"detail": {}})).is_none());
    }
}

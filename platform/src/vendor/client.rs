//! How the platform calls the vendor: one POST per fulfillment request, carrying its idempotency key,
//! with a short timeout so a hanging vendor fails the attempt instead of the worker.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::IDEMPOTENCY_KEY_HEADER;

#[derive(Debug, thiserror::Error)]
pub enum VendorError {
    /// The vendor answered, but not with success (503 during an outage).
    #[error("vendor answered {status}: {body}")]
    Rejected { status: u16, body: String },
    /// No answer within the client timeout: the request may or may not have been acted on.
    #[error("vendor did not answer within {0:?}")]
    Timeout(Duration),
    #[error("vendor unreachable: {0}")]
    Unreachable(String),
}

impl VendorError {
    /// HTTP status to record beside the request, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            VendorError::Rejected { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The vendor's acknowledgement of a fulfillment request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VendorAck {
    #[serde(skip_deserializing)]
    pub status: u16,
    pub vendor_reference: String,
    #[serde(default)]
    pub replayed: bool,
    /// Accepted, but the line ships later: the vendor's fulfilment of the order is partial for now.
    #[serde(default)]
    pub backordered: bool,
    #[serde(skip)]
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct VendorClient {
    base: String,
    timeout: Duration,
    http: reqwest::Client,
}

impl VendorClient {
    /// `base` is the vendor's root URL, e.g. `http://127.0.0.1:58280`.
    pub fn new(base: impl Into<String>, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(timeout)
            .build()
            .expect("reqwest client with timeouts only");
        Self { base: base.into().trim_end_matches('/').to_string(), timeout, http }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Asks the vendor to fulfil; the same `idempotency_key` never creates a second fulfillment.
    #[tracing::instrument(skip(self, payload))]
    pub async fn request_fulfillment(
        &self,
        idempotency_key: &str,
        payload: &serde_json::Value,
    ) -> Result<VendorAck, VendorError> {
        let res = self
            .http
            .post(format!("{}/fulfillments", self.base))
            .header(IDEMPOTENCY_KEY_HEADER, idempotency_key)
            .json(payload)
            .send()
            .await
            .map_err(|e| self.classify(e))?;
        let status = res.status();
        let body = res.text().await.map_err(|e| self.classify(e))?;
        if !status.is_success() {
            return Err(VendorError::Rejected { status: status.as_u16(), body: body.chars().take(500).collect() });
        }
        let mut ack: VendorAck = serde_json::from_str(&body)
            .map_err(|e| VendorError::Rejected { status: status.as_u16(), body: format!("undecodable answer: {e}") })?;
        ack.status = status.as_u16();
        ack.body = body;
        Ok(ack)
    }

    /// Sets the vendor's mode (`POST /control`) — used by fault injection and tests.
    pub async fn set_mode(&self, mode: super::VendorMode) -> Result<super::VendorStatus, VendorError> {
        let res =
            self.http.post(format!("{}/control", self.base)).json(&mode).send().await.map_err(|e| self.classify(e))?;
        res.json().await.map_err(|e| self.classify(e))
    }

    /// What the vendor knows about one key (`GET /fulfillments/{key}`); `None` when it never saw it.
    pub async fn record(&self, idempotency_key: &str) -> Result<Option<super::FulfillmentRecord>, VendorError> {
        let res = self
            .http
            .get(format!("{}/fulfillments/{}", self.base, idempotency_key))
            .send()
            .await
            .map_err(|e| self.classify(e))?;
        if res.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        res.json().await.map(Some).map_err(|e| self.classify(e))
    }

    fn classify(&self, e: reqwest::Error) -> VendorError {
        if e.is_timeout() {
            VendorError::Timeout(self.timeout)
        } else {
            VendorError::Unreachable(e.to_string())
        }
    }
}

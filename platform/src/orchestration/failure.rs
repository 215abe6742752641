//! Why an orchestration step failed, in the lesson's terms (§13.1): a **transient** failure (a 503 from
//! the vendor, a timeout, the engine or the database away) is retried once the cause is gone; a
//! **business** failure (the vendor rejected the line, the order's state refuses the step) is not fixed by
//! trying again — it takes a BPMN error or a domain repair. What is neither known to be transient nor a
//! business answer (a bad business key, an unexpected database error) is **unknown**: retried only after
//! someone found and fixed its cause.
//!
//! The worker classifies the error it has in hand ([`classify`]); a repair classifies what is left of a
//! failure afterwards — the engine's incident message (the worker's error, as text) and the vendor's
//! answer recorded in `oms.fulfillment_request` ([`classify_recorded`]). The two agree by construction:
//! the message patterns below are the `Display` of the same errors, and the tests hold them together.

use serde::Serialize;

use super::Error;
use crate::engine::EngineError;
use crate::named_enum;
use crate::vendor::VendorError;

named_enum!(/// What kind of failure an orchestration step had.
FailureClass {
    /// Retry once the cause is gone: the same step will succeed.
    Transient => "TRANSIENT",
    /// A business answer: retrying changes nothing; a BPMN error or a domain repair does.
    Business => "BUSINESS",
    /// Neither known to be transient nor a business answer: fix the cause before retrying.
    Unknown => "UNKNOWN",
});

/// The BPMN error code the worker raises when the vendor rejects a line (the model's boundary event on
/// `request-fulfillment` catches it).
pub const FULFILLMENT_REJECTED: &str = "FULFILLMENT_REJECTED";

/// A failure's class and why it was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classified {
    pub class: FailureClass,
    pub why: String,
}

impl Classified {
    fn new(class: FailureClass, why: impl Into<String>) -> Self {
        Classified { class, why: why.into() }
    }
}

/// A vendor's HTTP answer: 408 (timeout), 429 (too many requests) and 5xx are transient; any other 4xx is
/// the vendor saying no to this request (validation, unknown SKU, …): a business answer.
pub fn classify_vendor_status(status: u16) -> FailureClass {
    match status {
        408 | 429 => FailureClass::Transient,
        400..=499 => FailureClass::Business,
        500..=599 => FailureClass::Transient,
        _ => FailureClass::Unknown,
    }
}

/// True when the vendor's error is a business rejection of the request (a 4xx other than 408/429).
pub fn is_business_rejection(error: &VendorError) -> bool {
    error.status().is_some_and(|s| classify_vendor_status(s) == FailureClass::Business)
}

/// The class of an error a step returned, as the worker has it.
pub fn classify(error: &Error) -> FailureClass {
    match error {
        Error::Vendor(VendorError::Rejected { status, .. }) => classify_vendor_status(*status),
        Error::Vendor(VendorError::Timeout(_) | VendorError::Unreachable(_)) => FailureClass::Transient,
        Error::Engine(EngineError::Unreachable(_)) => FailureClass::Transient,
        Error::Engine(EngineError::Rejected { status, .. }) if *status >= 500 => FailureClass::Transient,
        Error::Platform(crate::Error::Refused { .. }) => FailureClass::Business,
        Error::Platform(crate::Error::Conflict { .. }) => FailureClass::Transient,
        Error::Platform(crate::Error::Database(e)) if database_unavailable(e) => FailureClass::Transient,
        _ => FailureClass::Unknown,
    }
}

fn database_unavailable(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed)
}

/// The class of a failure from what it left behind: the engine's incident (or failed task's) message —
/// the worker's error as text — and, for the fulfillment step, the vendor's last recorded answer
/// (`oms.fulfillment_request.response_code`), which is the better evidence when there is one.
pub fn classify_recorded(message: Option<&str>, vendor_answer: Option<i32>) -> Classified {
    if let Some(code) = vendor_answer.and_then(|c| u16::try_from(c).ok()) {
        let class = classify_vendor_status(code);
        let why = match class {
            FailureClass::Business => format!("the vendor rejected the request ({code}): a business answer"),
            FailureClass::Transient => format!("the vendor answered {code}: a transient failure"),
            FailureClass::Unknown => format!("the vendor answered {code}"),
        };
        return Classified::new(class, why);
    }
    let Some(message) = message.map(str::trim).filter(|m| !m.is_empty()) else {
        return Classified::new(FailureClass::Unknown, "the engine kept no message for the failure");
    };
    if let Some(rest) = message.strip_prefix("vendor answered ") {
        let status = rest.split(':').next().and_then(|s| s.trim().parse::<u16>().ok());
        if let Some(status) = status {
            return classify_recorded(None, Some(i32::from(status)));
        }
    }
    const TRANSIENT: [(&str, &str); 6] = [
        ("vendor did not answer within", "the vendor timed out: transient (the outcome of that call is unknown)"),
        ("vendor unreachable", "the vendor was unreachable: transient"),
        ("process engine unreachable", "the process engine was unreachable: transient"),
        ("process engine answered 5", "the process engine failed: transient"),
        ("changed meanwhile (expected version", "a concurrent change of the order: transient"),
        ("error communicating with database", "the database was unreachable: transient"),
    ];
    if let Some((_, why)) = TRANSIENT.iter().find(|(pattern, _)| message.contains(pattern)) {
        return Classified::new(FailureClass::Transient, *why);
    }
    if message.contains("pool timed out") {
        return Classified::new(FailureClass::Transient, "no database connection was free: transient");
    }
    if let Some(reason) = message.strip_prefix("refused: ") {
        return Classified::new(FailureClass::Business, format!("the domain refused the step ({reason}): a business failure"));
    }
    Classified::new(FailureClass::Unknown, format!("not a known transient or business failure: {message}"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn vendor_answers_are_business_for_4xx_and_transient_for_timeouts_throttling_and_5xx() {
        assert_eq!(classify_vendor_status(422), FailureClass::Business);
        assert_eq!(classify_vendor_status(400), FailureClass::Business);
        assert_eq!(classify_vendor_status(408), FailureClass::Transient);
        assert_eq!(classify_vendor_status(429), FailureClass::Transient);
        assert_eq!(classify_vendor_status(503), FailureClass::Transient);
        assert_eq!(classify_vendor_status(302), FailureClass::Unknown);
    }

    /// What the worker decides with the error in hand, a repair decides again from its text.
    #[test]
    fn a_recorded_message_is_classified_as_the_error_it_came_from() {
        let errors: Vec<Error> = vec![
            VendorError::Rejected { status: 422, body: r#"{"error":"SKU discontinued"}"#.into() }.into(),
            VendorError::Rejected { status: 503, body: "vendor unavailable".into() }.into(),
            VendorError::Timeout(Duration::from_secs(1)).into(),
            VendorError::Unreachable("connection refused".into()).into(),
            EngineError::Unreachable("connect error".into()).into(),
            EngineError::Rejected { status: 500, body: "boom".into() }.into(),
            crate::Error::refused("order in CANCELLED cannot request fulfillment").into(),
            crate::Error::Conflict { entity: crate::ids::EntityKind::Order, id: "o".into(), expected: 3, found: 4 }.into(),
            Error::BadBusinessKey { task_id: "t".into(), business_key: None },
        ];
        for error in errors {
            let recorded = classify_recorded(Some(&error.to_string()), None);
            assert_eq!(recorded.class, classify(&error), "{error}: {}", recorded.why);
        }
    }

    #[test]
    fn the_vendors_recorded_answer_outweighs_the_message() {
        let c = classify_recorded(Some("vendor did not answer within 1s"), Some(422));
        assert_eq!(c.class, FailureClass::Business);
        assert!(c.why.contains("422"));
        assert_eq!(classify_recorded(None, None).class, FailureClass::Unknown);
        assert!(is_business_rejection(&VendorError::Rejected { status: 409, body: String::new() }));
        assert!(!is_business_rejection(&VendorError::Rejected { status: 429, body: String::new() }));
        assert!(!is_business_rejection(&VendorError::Timeout(Duration::from_secs(1))));
    }
}

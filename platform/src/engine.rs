//! The process engine (Operaton, Camunda 7 REST API) as the platform uses it: deploy the orchestration
//! model, start one process instance per order under the business key `tenantId:orderId`, and find it
//! again by that key. The engine coordinates execution; it is never the business truth (lesson 3, 13.3).

use std::collections::HashSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ids::{OrderId, TenantId};

/// The order-orchestration model shipped with the platform.
pub const ORDER_ORCHESTRATION_BPMN: &str = include_str!("../bpmn/order-orchestration.bpmn");
pub const ORDER_ORCHESTRATION_KEY: &str = "order-orchestration";

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("process engine unreachable: {0}")]
    Unreachable(String),
    #[error("process engine answered {status}: {body}")]
    Rejected { status: u16, body: String },
    #[error("unexpected answer from the process engine: {0}")]
    Decode(String),
}

/// `tenantId:orderId` — the only key runbooks use to find an order's process (lesson 13.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BusinessKey(String);

impl BusinessKey {
    pub fn for_order(tenant: TenantId, order: OrderId) -> Self {
        Self(format!("{tenant}:{order}"))
    }

    /// Splits a key back into tenant and order; `None` when it is not of that shape.
    pub fn parse(key: &str) -> Option<(TenantId, OrderId)> {
        let (t, o) = key.split_once(':')?;
        Some((TenantId::parse(t).ok()?, OrderId::parse(o).ok()?))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub id: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessInstance {
    pub id: String,
    pub definition_id: String,
    pub business_key: Option<String>,
    pub ended: bool,
    pub suspended: bool,
}

/// One topic of a fetchAndLock request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchTopic {
    pub topic_name: String,
    /// Milliseconds the task stays locked to this worker.
    pub lock_duration: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_key: Option<String>,
    /// Only tasks whose process instance has each of these variables with that value (Camunda 7.9+).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_variables: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A locked (or listed) external task.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalTask {
    pub id: String,
    pub topic_name: Option<String>,
    pub activity_id: Option<String>,
    pub process_instance_id: Option<String>,
    pub business_key: Option<String>,
    pub worker_id: Option<String>,
    /// `None` until the first failure is reported.
    pub retries: Option<i32>,
    pub error_message: Option<String>,
}

/// An open incident (e.g. `failedExternalTask` once retries ran out).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Incident {
    pub id: String,
    pub incident_type: String,
    pub activity_id: Option<String>,
    pub process_instance_id: Option<String>,
    pub incident_message: Option<String>,
    /// For external-task incidents: the task id.
    pub configuration: Option<String>,
    /// When the engine raised it (`2026-11-28T10:00:00.000+0000`).
    #[serde(default)]
    pub incident_timestamp: Option<String>,
}

/// A job (timer, async continuation) whose last execution threw: retrying while `retries` > 0, an
/// incident once they are spent.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedJob {
    pub id: String,
    pub process_instance_id: Option<String>,
    pub exception_message: Option<String>,
    pub failed_activity_id: Option<String>,
    pub retries: i32,
    pub create_time: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoricProcessInstance {
    pub id: String,
    pub business_key: Option<String>,
    /// ACTIVE, SUSPENDED, COMPLETED, EXTERNALLY_TERMINATED, INTERNALLY_TERMINATED.
    pub state: String,
    pub end_time: Option<String>,
}

/// How long one request to the engine may take, connecting included, unless a client is built with
/// [`EngineClient::with_request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// A thin client of the engine's REST API.
#[derive(Debug, Clone)]
pub struct EngineClient {
    base: String,
    http: reqwest::Client,
    request_timeout: Duration,
}

impl EngineClient {
    /// The REST root this client asks.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `base` is the REST root, e.g. `http://127.0.0.1:58080/engine-rest`.
    pub fn new(base: impl Into<String>) -> Self {
        Self::with_request_timeout(base, DEFAULT_REQUEST_TIMEOUT)
    }

    /// A client whose requests give up after `request_timeout` (connecting: at most 2 s of it). Note
    /// that a request given up by the client may still be carried out by the engine.
    pub fn with_request_timeout(base: impl Into<String>, request_timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(request_timeout.min(Duration::from_secs(2)))
            .timeout(request_timeout)
            .build()
            .expect("reqwest client with timeouts only");
        Self { base: base.into().trim_end_matches('/').to_string(), http, request_timeout }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// Deploys a BPMN model; unchanged resources are not redeployed (`enable-duplicate-filtering`).
    pub async fn deploy(&self, name: &str, file_name: &str, bpmn: &str) -> Result<Deployment, EngineError> {
        let part = reqwest::multipart::Part::text(bpmn.to_string())
            .file_name(file_name.to_string())
            .mime_str("application/xml")
            .map_err(|e| EngineError::Decode(e.to_string()))?;
        let form = reqwest::multipart::Form::new()
            .text("deployment-name", name.to_string())
            .text("enable-duplicate-filtering", "true")
            .text("deploy-changed-only", "true")
            .text("deployment-source", "opsdeck")
            .part(file_name.to_string(), part);
        let res = self.http.post(format!("{}/deployment/create", self.base)).multipart(form).send().await;
        decode(res).await
    }

    /// Starts the latest version of `process_key` under `business_key`, with string variables.
    pub async fn start(
        &self,
        process_key: &str,
        business_key: &BusinessKey,
        variables: &[(&str, String)],
    ) -> Result<ProcessInstance, EngineError> {
        self.start_with(process_key, business_key, variables, None).await
    }

    /// Starts the latest version of `process_key` under `business_key` at `activity_id`: what the order
    /// already has is not done again (Operaton's `startInstructions`, `startBeforeActivity`).
    pub async fn start_at(
        &self,
        process_key: &str,
        business_key: &BusinessKey,
        variables: &[(&str, String)],
        activity_id: &str,
    ) -> Result<ProcessInstance, EngineError> {
        self.start_with(process_key, business_key, variables, Some(activity_id)).await
    }

    async fn start_with(
        &self,
        process_key: &str,
        business_key: &BusinessKey,
        variables: &[(&str, String)],
        activity_id: Option<&str>,
    ) -> Result<ProcessInstance, EngineError> {
        let mut body = serde_json::json!({ "businessKey": business_key.as_str(), "variables": string_variables(variables) });
        if let Some(activity_id) = activity_id {
            body["startInstructions"] = serde_json::json!([{ "type": "startBeforeActivity", "activityId": activity_id }]);
            body["skipCustomListeners"] = serde_json::json!(true);
            body["skipIoMappings"] = serde_json::json!(true);
        }
        let res = self
            .http
            .post(format!("{}/process-definition/key/{}/start", self.base, process_key))
            .json(&body)
            .send()
            .await;
        decode(res).await
    }

    /// Restarts a running instance at `start_before`, cancelling what runs at `cancel` (a failed activity):
    /// Operaton's process-instance modification. The instance keeps its id and business key.
    pub async fn restart_at(&self, process_instance_id: &str, cancel: &str, start_before: &str) -> Result<(), EngineError> {
        let body = serde_json::json!({
            "skipCustomListeners": true,
            "skipIoMappings": true,
            "annotation": "opsdeck repair: resume orchestration",
            "instructions": [
                { "type": "cancel", "activityId": cancel },
                { "type": "startBeforeActivity", "activityId": start_before },
            ],
        });
        let res = self
            .http
            .post(format!("{}/process-instance/{}/modification", self.base, process_instance_id))
            .json(&body)
            .send()
            .await;
        no_content(res).await
    }

    /// The activities an instance is waiting in now (leaves of its activity-instance tree).
    pub async fn current_activities(&self, process_instance_id: &str) -> Result<Vec<String>, EngineError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Node {
            activity_id: String,
            #[serde(default)]
            child_activity_instances: Vec<Node>,
        }
        fn leaves(node: Node, out: &mut Vec<String>) {
            if node.child_activity_instances.is_empty() {
                out.push(node.activity_id);
            } else {
                for child in node.child_activity_instances {
                    leaves(child, out);
                }
            }
        }
        let root: Node = decode(
            self.http.get(format!("{}/process-instance/{}/activity-instances", self.base, process_instance_id)).send().await,
        )
        .await?;
        let mut out = Vec::new();
        for child in root.child_activity_instances {
            leaves(child, &mut out);
        }
        Ok(out)
    }

    /// Active (running or suspended) process instances carrying `business_key`.
    pub async fn instances_by_business_key(&self, business_key: &BusinessKey) -> Result<Vec<ProcessInstance>, EngineError> {
        let res = self
            .http
            .get(format!("{}/process-instance", self.base))
            .query(&[("businessKey", business_key.as_str())])
            .send()
            .await;
        decode(res).await
    }

    /// Fetches and locks up to `max_tasks` external tasks of `topics` for `worker_id`. Each topic may be
    /// narrowed to one business key, so a worker (or a test) only takes its own orders' tasks.
    pub async fn fetch_and_lock(
        &self,
        worker_id: &str,
        max_tasks: u32,
        topics: &[FetchTopic],
    ) -> Result<Vec<ExternalTask>, EngineError> {
        let body = serde_json::json!({ "workerId": worker_id, "maxTasks": max_tasks, "topics": topics });
        let res = self.http.post(format!("{}/external-task/fetchAndLock", self.base)).json(&body).send().await;
        decode(res).await
    }

    /// Completes a locked external task; the process moves on.
    pub async fn complete(&self, task_id: &str, worker_id: &str) -> Result<(), EngineError> {
        let body = serde_json::json!({ "workerId": worker_id });
        let res = self.http.post(format!("{}/external-task/{}/complete", self.base, task_id)).json(&body).send().await;
        no_content(res).await
    }

    /// Reports a failed attempt. `retries` is what is left; at 0 the engine raises an incident. The task
    /// is not fetched again before `retry_timeout` has passed.
    pub async fn handle_failure(
        &self,
        task_id: &str,
        worker_id: &str,
        error_message: &str,
        error_details: &str,
        retries: i32,
        retry_timeout: Duration,
    ) -> Result<(), EngineError> {
        let body = serde_json::json!({
            "workerId": worker_id,
            "errorMessage": error_message.chars().take(600).collect::<String>(),
            "errorDetails": error_details,
            "retries": retries.max(0),
            "retryTimeout": u64::try_from(retry_timeout.as_millis()).unwrap_or(u64::MAX),
        });
        let res = self.http.post(format!("{}/external-task/{}/failure", self.base, task_id)).json(&body).send().await;
        no_content(res).await
    }

    /// Keeps a locked task locked to `worker_id` for `duration` from now, without reporting anything: the
    /// task is not done yet and nothing failed (a step waiting for the outside world). When the lock runs
    /// out the task can be fetched again.
    pub async fn extend_lock(&self, task_id: &str, worker_id: &str, duration: Duration) -> Result<(), EngineError> {
        let body = serde_json::json!({
            "workerId": worker_id,
            "newDuration": u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        });
        let res = self.http.post(format!("{}/external-task/{}/extendLock", self.base, task_id)).json(&body).send().await;
        no_content(res).await
    }

    /// Reports a business error for a locked task: the process takes the error boundary event catching
    /// `error_code` (or, where none catches it, the instance ends). Nothing is retried and no incident is
    /// raised: a business failure is not fixed by trying again (lesson §13.1).
    pub async fn handle_bpmn_error(
        &self,
        task_id: &str,
        worker_id: &str,
        error_code: &str,
        error_message: &str,
    ) -> Result<(), EngineError> {
        let body = serde_json::json!({
            "workerId": worker_id,
            "errorCode": error_code,
            "errorMessage": error_message.chars().take(600).collect::<String>(),
        });
        let res = self.http.post(format!("{}/external-task/{}/bpmnError", self.base, task_id)).json(&body).send().await;
        no_content(res).await
    }

    /// One external task by id; `None` when the engine has no such task (it completed, or its instance
    /// ended).
    pub async fn external_task(&self, task_id: &str) -> Result<Option<ExternalTask>, EngineError> {
        let res = self.http.get(format!("{}/external-task/{}", self.base, task_id)).send().await;
        match decode(res).await {
            Ok(task) => Ok(Some(task)),
            Err(EngineError::Rejected { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Ends a running process instance (`DELETE /process-instance/{id}`), keeping `reason` in its history
    /// (EXTERNALLY_TERMINATED). An instance that is already gone is not an error: the result is the same.
    pub async fn delete_instance(&self, process_instance_id: &str, reason: &str) -> Result<(), EngineError> {
        let res = self
            .http
            .delete(format!("{}/process-instance/{}", self.base, process_instance_id))
            .query(&[("skipCustomListeners", "true"), ("skipIoMappings", "true"), ("deleteReason", reason)])
            .send()
            .await;
        match no_content(res).await {
            Err(EngineError::Rejected { status: 404, .. }) => Ok(()),
            other => other,
        }
    }

    /// External tasks of one process instance (locked or not, with or without retries left).
    pub async fn external_tasks(&self, process_instance_id: &str) -> Result<Vec<ExternalTask>, EngineError> {
        let res = self
            .http
            .get(format!("{}/external-task", self.base))
            .query(&[("processInstanceId", process_instance_id)])
            .send()
            .await;
        decode(res).await
    }

    /// Sets a task's retries — the "retry the job" of lesson 13.2 step 8 (and resolves its incident).
    pub async fn set_external_task_retries(&self, task_id: &str, retries: i32) -> Result<(), EngineError> {
        let body = serde_json::json!({ "retries": retries });
        let res = self.http.put(format!("{}/external-task/{}/retries", self.base, task_id)).json(&body).send().await;
        no_content(res).await
    }

    /// Open incidents of one process instance.
    pub async fn incidents(&self, process_instance_id: &str) -> Result<Vec<Incident>, EngineError> {
        let res = self
            .http
            .get(format!("{}/incident", self.base))
            .query(&[("processInstanceId", process_instance_id)])
            .send()
            .await;
        decode(res).await
    }

    /// The engine's open incidents, newest first, at most `max` (every process definition).
    pub async fn open_incidents(&self, max: u32) -> Result<Vec<Incident>, EngineError> {
        let res = self
            .http
            .get(format!("{}/incident", self.base))
            .query(&[("sortBy", "incidentTimestamp"), ("sortOrder", "desc"), ("maxResults", &max.to_string())])
            .send()
            .await;
        decode(res).await
    }

    /// How many incidents are open in the engine.
    pub async fn open_incident_count(&self) -> Result<u64, EngineError> {
        #[derive(Deserialize)]
        struct Count {
            count: u64,
        }
        let count: Count = decode(self.http.get(format!("{}/incident/count", self.base)).send().await).await?;
        Ok(count.count)
    }

    /// Jobs whose last execution threw (retrying or out of retries), at most `max`.
    pub async fn failed_jobs(&self, max: u32) -> Result<Vec<FailedJob>, EngineError> {
        let res = self
            .http
            .get(format!("{}/job", self.base))
            .query(&[("withException", "true"), ("maxResults", &max.to_string())])
            .send()
            .await;
        decode(res).await
    }

    /// The process instances with these ids that are still running (for their business keys).
    pub async fn instances_by_ids(&self, ids: &[String]) -> Result<Vec<ProcessInstance>, EngineError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let body = serde_json::json!({ "processInstanceIds": ids });
        let res = self
            .http
            .post(format!("{}/process-instance", self.base))
            .query(&[("maxResults", ids.len().to_string())])
            .json(&body)
            .send()
            .await;
        decode(res).await
    }

    /// A process instance as history knows it (also after it ended).
    pub async fn historic_instance(&self, process_instance_id: &str) -> Result<HistoricProcessInstance, EngineError> {
        let res = self.http.get(format!("{}/history/process-instance/{}", self.base, process_instance_id)).send().await;
        decode(res).await
    }

    /// One page of the active (running or suspended) instances of a process definition, in instance-id
    /// order: the reconciliation reads them all, page by page.
    pub async fn instances_page(&self, definition_key: &str, first: u32, max: u32) -> Result<Vec<ProcessInstance>, EngineError> {
        let res = self
            .http
            .get(format!("{}/process-instance", self.base))
            .query(&[("processDefinitionKey", definition_key), ("sortBy", "instanceId"), ("sortOrder", "asc")])
            .query(&[("firstResult", first), ("maxResults", max)])
            .send()
            .await;
        decode(res).await
    }

    /// The ids among `process_instance_ids` whose instance has the process variable `name`, whatever
    /// its value.
    pub async fn instances_with_variable(&self, name: &str, process_instance_ids: &[&str]) -> Result<HashSet<String>, EngineError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Variable {
            process_instance_id: Option<String>,
        }
        let body = serde_json::json!({ "variableName": name, "processInstanceIdIn": process_instance_ids });
        let res = self
            .http
            .post(format!("{}/variable-instance", self.base))
            .query(&[("deserializeValues", "false")])
            .json(&body)
            .send()
            .await;
        let found: Vec<Variable> = decode(res).await?;
        Ok(found.into_iter().filter_map(|v| v.process_instance_id).collect())
    }

    /// Sets the String process variable `name` of a running instance.
    pub async fn set_instance_variable(&self, process_instance_id: &str, name: &str, value: &str) -> Result<(), EngineError> {
        let body = serde_json::json!({ "value": value, "type": "String" });
        let res = self
            .http
            .put(format!("{}/process-instance/{}/variables/{}", self.base, process_instance_id, name))
            .json(&body)
            .send()
            .await;
        no_content(res).await
    }

    /// The engine's version string (also a cheap liveness probe).
    pub async fn version(&self) -> Result<String, EngineError> {
        #[derive(Deserialize)]
        struct V {
            version: String,
        }
        let v: V = decode(self.http.get(format!("{}/version", self.base)).send().await).await?;
        Ok(v.version)
    }
}

fn string_variables(variables: &[(&str, String)]) -> serde_json::Map<String, serde_json::Value> {
    variables.iter().map(|(k, v)| ((*k).to_string(), serde_json::json!({ "value": v, "type": "String" }))).collect()
}

async fn decode<T: serde::de::DeserializeOwned>(res: reqwest::Result<reqwest::Response>) -> Result<T, EngineError> {
    let res = res.map_err(|e| EngineError::Unreachable(e.to_string()))?;
    let status = res.status();
    let text = res.text().await.map_err(|e| EngineError::Unreachable(e.to_string()))?;
    if !status.is_success() {
        return Err(EngineError::Rejected { status: status.as_u16(), body: text.chars().take(500).collect() });
    }
    serde_json::from_str(&text).map_err(|e| EngineError::Decode(format!("{e}: {}", text.chars().take(200).collect::<String>())))
}

/// For the calls the engine answers with 204 and no body.
async fn no_content(res: reqwest::Result<reqwest::Response>) -> Result<(), EngineError> {
    let res = res.map_err(|e| EngineError::Unreachable(e.to_string()))?;
    let status = res.status();
    if status.is_success() {
        return Ok(());
    }
    let text = res.text().await.unwrap_or_default();
    Err(EngineError::Rejected { status: status.as_u16(), body: text.chars().take(500).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenants::ACME;

    #[test]
    fn business_key_is_tenant_colon_order_and_parses_back() {
        let order = OrderId::parse("0190f5c4-0000-7000-8000-000000000001").unwrap();
        let key = BusinessKey::for_order(ACME, order);
        assert_eq!(key.as_str(), "10000000-0000-4000-8000-000000000001:0190f5c4-0000-7000-8000-000000000001");
        assert_eq!(BusinessKey::parse(key.as_str()), Some((ACME, order)));
        assert_eq!(BusinessKey::parse("no-colon"), None);
        assert_eq!(BusinessKey::parse("x:y"), None);
    }
}

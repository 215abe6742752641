//! Engine calls that follow a committed change (lesson §23: external calls after the commit).
//!
//! A command that changes an order and must also tell the engine — resume its process, give a failed task
//! a retry, end a cancelled duplicate's process — changes the order in its transaction and *returns* the
//! engine call as an [`EngineStep`] instead of making it. The caller records the steps in the same
//! transaction, commits, and only then carries them out; a step that fails (the engine went away between
//! the commit and the call) stays recorded and is carried out again later. So the database never says
//! something the engine call made true before the commit, and the engine call is never lost.
//!
//! Carrying a step out twice must be harmless, because a crash between the call and the record that it
//! was made repeats it. Each step therefore looks before it acts: a start adopts an instance already
//! under the business key, a restart in place does nothing once the failed activity's incident is gone,
//! a retry does nothing once the task has retries or is gone, and ending an instance that is already
//! gone is the same result.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::ownership::DATABASE_VARIABLE;
use crate::engine::{BusinessKey, EngineClient, EngineError, ORDER_ORCHESTRATION_KEY};
use crate::ids::{OrderId, TenantId};

/// One engine call a committed change still owes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum EngineStep {
    /// A new instance of the order-orchestration process under `tenantId:orderId`, started before
    /// `activity` — or the one already under that key, adopted — naming `database`, the order's
    /// ([`super::ownership`]). Steps recorded before instances named their database have none; the
    /// worker adopts what they start.
    StartOrderProcess {
        tenant_id: TenantId,
        order_id: OrderId,
        activity: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        database: Option<String>,
    },
    /// A running instance restarted in place: the activity `cancel` (stalled on an incident) cancelled,
    /// `activity` started.
    RestartInPlace { process_instance_id: String, cancel: String, activity: String },
    /// A failed external task given `retries` back.
    RetryTask { task_id: String, retries: i32 },
    /// An instance ended, `reason` kept in its history.
    EndInstance { process_instance_id: String, reason: String },
}

impl EngineStep {
    /// What the step does, as a person reads it.
    pub fn describe(&self) -> String {
        match self {
            EngineStep::StartOrderProcess { tenant_id, order_id, activity, .. } => {
                format!("start the order's process under {tenant_id}:{order_id} before '{activity}'")
            }
            EngineStep::RestartInPlace { process_instance_id, cancel, activity } => {
                format!("restart process instance {process_instance_id} in place: cancel '{cancel}', start before '{activity}'")
            }
            EngineStep::RetryTask { task_id, retries } => format!("give external task {task_id} {retries} retry(ies) back"),
            EngineStep::EndInstance { process_instance_id, .. } => format!("end process instance {process_instance_id}"),
        }
    }

    /// Carries the step out — or finds it already done — and says which, with what the engine answered.
    pub async fn carry_out(&self, engine: &EngineClient) -> Result<Value, EngineError> {
        match self {
            EngineStep::StartOrderProcess { tenant_id, order_id, activity, database } => {
                let key = BusinessKey::for_order(*tenant_id, *order_id);
                if let Some(existing) = engine.instances_by_business_key(&key).await?.into_iter().next() {
                    if let Some(database) = database {
                        engine.set_instance_variable(&existing.id, DATABASE_VARIABLE, database).await?;
                    }
                    return Ok(json!({ "adopted": existing.id }));
                }
                let mut vars = vec![("tenantId", tenant_id.to_string()), ("orderId", order_id.to_string())];
                vars.extend(database.iter().map(|d| (DATABASE_VARIABLE, d.clone())));
                let started = engine.start_at(ORDER_ORCHESTRATION_KEY, &key, &vars, activity).await?;
                Ok(json!({ "started": started.id }))
            }
            EngineStep::RestartInPlace { process_instance_id, cancel, activity } => {
                let stalled = engine
                    .incidents(process_instance_id)
                    .await?
                    .iter()
                    .any(|i| i.activity_id.as_deref() == Some(cancel.as_str()));
                if !stalled {
                    return Ok(json!({ "already": format!("no incident at '{cancel}' any more") }));
                }
                engine.restart_at(process_instance_id, cancel, activity).await?;
                Ok(json!({ "restarted": process_instance_id, "at": activity }))
            }
            EngineStep::RetryTask { task_id, retries } => match engine.external_task(task_id).await? {
                None => Ok(json!({ "already": "the task is gone: its process moved on or ended" })),
                Some(task) if task.retries != Some(0) => Ok(json!({ "already": format!("the task has retries ({:?})", task.retries) })),
                Some(_) => {
                    engine.set_external_task_retries(task_id, *retries).await?;
                    Ok(json!({ "retried": task_id, "retries": retries }))
                }
            },
            EngineStep::EndInstance { process_instance_id, reason } => {
                engine.delete_instance(process_instance_id, reason).await?;
                Ok(json!({ "ended": process_instance_id }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_survives_its_round_trip_through_json_and_says_what_it_does() {
        let step = EngineStep::EndInstance { process_instance_id: "p-1".into(), reason: "duplicate".into() };
        let stored = serde_json::to_value(&step).unwrap();
        assert_eq!(stored["step"], "end_instance");
        assert_eq!(serde_json::from_value::<EngineStep>(stored).unwrap(), step);
        assert_eq!(step.describe(), "end process instance p-1");
        let retry = EngineStep::RetryTask { task_id: "t-9".into(), retries: 1 };
        assert!(retry.describe().contains("t-9"));
    }
}

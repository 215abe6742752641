//! Mitigation controls as commands: a switch flipped from the console takes effect where the platform
//! honours it, is linked to its incident's timeline, keeps a consumer pause's §11.4 record, and is refused
//! for people outside the switch's scope, without an open incident, or when it is already in that state.

mod common;

use common::*;
use ops::control::{consumer_pauses, set_control, switches, ControlForSet, ControlForm, Switch};
use ops::identity::{Role, TenantScope};
use ops::incident::{timeline, TimelineFilter};
use ops::ErrorKind;
use platform::command::{accept_quote, apply_quote_command, CommandContext};
use platform::quote::QuoteCommand;
use platform::tenants::{ACME, GLOBEX};
use sqlx::PgPool;

fn change(switch: &str, state: &str, incident: &str) -> ControlForm {
    ControlForm {
        switch: switch.into(),
        state: state.into(),
        reason: "the vendor is down: stop what would pile up".into(),
        incident_id: incident.into(),
        ..Default::default()
    }
}

async fn flip(pool: &PgPool, actor: &ops::identity::Actor, form: &ControlForm) -> ops::Result<ops::control::SwitchView> {
    set_control(pool, actor, &ControlForSet::parse(form).expect("a valid form")).await
}

async fn try_accept(pool: &PgPool, quote: platform::ids::QuoteId) -> platform::Result<()> {
    let ctx = CommandContext::new("test:customer");
    let mut tx = pool.begin().await.unwrap();
    apply_quote_command(&mut tx, ACME, quote, None, QuoteCommand::ApproveWithoutReview, &ctx).await.ok();
    let accepted = accept_quote(&mut tx, ACME, quote, &format!("accept-{quote}"), &ctx).await.map(drop);
    if accepted.is_ok() {
        tx.commit().await.unwrap();
    }
    accepted
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn disabling_quote_acceptance_takes_effect_and_is_on_the_incident_timeline(pool: PgPool) {
    let world = world(&pool, ACME, "ctl").await;
    let incident = declare(&pool, &operator(), "SEV2", &[ACME], &[world.order]).await.incident_id;
    let mut form = change("quote-acceptance", "on", &incident.to_string());
    form.tenant = ACME.to_string();

    let on = flip(&pool, &operator(), &form).await.unwrap();
    assert!(on.on && on.switch == Switch::QuoteAcceptance && on.incident_id == Some(incident));
    assert!(try_accept(&pool, world.quote).await.is_err(), "acme's quotes cannot be accepted while it is on");

    let banner = switches(&pool, &viewer(), true).await.unwrap();
    assert_eq!(banner.len(), 1, "{banner:?}");
    assert!(banner[0].switch.customer_impacting());
    let events = timeline(&pool, &operator(), incident, TimelineFilter::ALL).await.unwrap();
    assert!(events.iter().any(|e| e.event_type == "CONTROL_CHANGED" && e.headline.contains("Quote acceptance disabled")));

    // Again: a rule refusal, nothing written.
    let again = flip(&pool, &operator(), &form).await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Rule, "{again}");

    form.state = "off".into();
    flip(&pool, &operator(), &form).await.unwrap();
    assert!(switches(&pool, &viewer(), true).await.unwrap().is_empty());
    try_accept(&pool, world.quote).await.expect("acceptance works again");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_consumer_pause_keeps_its_record_and_resuming_closes_it(pool: PgPool) {
    let world = world(&pool, ACME, "ctl").await;
    let incident = declare(&pool, &operator(), "SEV3", &[ACME], &[world.order]).await.incident_id;
    let mut form = change("consumer", "on", &incident.to_string());
    form.group = "order-projection".into();
    form.owner = "oscar.operator".into();
    form.expected_resume_condition = "the poison record is quarantined".into();
    form.customer_impact = "order status pages lag behind".into();
    let paused = flip(&pool, &operator(), &form).await.unwrap();
    let pause = paused.pause.expect("the open pause");
    assert_eq!((pause.topic.as_str(), pause.owner.as_str()), ("opsdeck.order", "oscar.operator"));
    let paused_now: bool = platform::projection::consumer_paused(&pool, "order-projection").await.unwrap();
    assert!(paused_now, "the consumer reads the switch");

    let resume = ControlForm { state: "off".into(), incident_id: String::new(), ..form.clone() };
    flip(&pool, &operator(), &resume).await.unwrap();
    let register = consumer_pauses(&pool, &viewer(), 10).await.unwrap();
    assert_eq!(register.len(), 1);
    assert!(register[0].resumed_at.is_some() && register[0].resumed_by.as_deref().unwrap().contains("oscar"));
    let rewrite = sqlx::query("update ops.consumer_pause set reason = 'nothing happened'").execute(&pool).await.unwrap_err();
    assert!(rewrite.to_string().contains("cannot change"), "{rewrite}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn scope_incident_and_role_are_checked_inside_the_command(pool: PgPool) {
    let world = world(&pool, ACME, "ctl").await;
    let incident = declare(&pool, &operator(), "SEV2", &[ACME], &[world.order]).await.incident_id;
    let gwen = actor("gwen.globex", &[Role::Operator], only(&[GLOBEX]));

    // A platform-wide switch needs every tenant; another tenant's switch needs that tenant.
    let relay = flip(&pool, &gwen, &change("relay", "on", &incident.to_string())).await.unwrap_err();
    assert_eq!(relay.kind(), ErrorKind::NotAllowed, "{relay}");
    let mut acme = change("quote-acceptance", "on", &incident.to_string());
    acme.tenant = ACME.to_string();
    assert_eq!(flip(&pool, &gwen, &acme).await.unwrap_err().kind(), ErrorKind::NotAllowed);
    // A viewer may look, not flip.
    let viewer_try = flip(&pool, &viewer(), &change("relay", "on", &incident.to_string())).await.unwrap_err();
    assert_eq!(viewer_try.kind(), ErrorKind::NotAllowed);

    // The incident must concern the tenant, and be open.
    let globex_incident = declare(&pool, &operator(), "SEV3", &[GLOBEX], &[]).await.incident_id;
    let wrong = flip(&pool, &operator(), &ControlForm { incident_id: globex_incident.to_string(), ..acme.clone() }).await.unwrap_err();
    assert!(wrong.field_errors().unwrap().get("incident_id").unwrap().contains("does not concern"), "{wrong}");
    let nowhere = flip(&pool, &operator(), &ControlForm { incident_id: ops::ids::IncidentId::new().to_string(), ..acme.clone() })
        .await
        .unwrap_err();
    assert_eq!(nowhere.kind(), ErrorKind::Invalid);

    let switched: i64 = sqlx::query_scalar("select count(*) from ops.platform_control").fetch_one(&pool).await.unwrap();
    assert_eq!(switched, 0, "no refused change wrote a switch");
    // An operator of every tenant may pause the relay.
    let all = actor("oscar.operator", &[Role::Operator], TenantScope::All);
    assert!(flip(&pool, &all, &change("relay", "on", &incident.to_string())).await.unwrap().on);
}

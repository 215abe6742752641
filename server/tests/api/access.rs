//! Who may do what: every demo user of the dev realm, signed in through Keycloak, against the console's
//! commands as they exist — reading an order in each tenant, listing their tenants — with every refusal
//! answered 403 and audited.

use platform::ids::TenantId;
use platform::tenants::{ACME, GLOBEX, INITECH};
use sqlx::PgPool;

use crate::helpers::{audit_lines, capture_order, encode, spawn_app_with_idp, CapturedOrder};

/// One order in each of three tenants.
async fn orders(pool: &PgPool) -> Vec<CapturedOrder> {
    vec![
        capture_order(pool, ACME, "Q-ACME-1", "Acme Customer").await,
        capture_order(pool, GLOBEX, "Q-GLOBEX-1", "Globex Customer").await,
        capture_order(pool, INITECH, "Q-INITECH-1", "Initech Customer").await,
    ]
}

/// The role × command matrix, written out: for each demo user, whether they may read an order of acme,
/// globex, initech, and list their tenants (/me). Roles and tenants as in end2end/keycloak/README.md.
#[rustfmt::skip]
const MATRIX: [(&str, [bool; 3], bool); 7] = [
    //                     read order in: acme   globex initech   who am I
    ("vera.viewer",      [true,  false, false], true),
    ("oscar.operator",   [true,  true,  true ], true),
    ("ada.approver",     [true,  true,  true ], true),
    ("cora.comms",       [true,  true,  true ], true),
    ("adam.admin",       [true,  true,  true ], true),
    ("olga.opsapprover", [true,  true,  false], true),
    ("gwen.globex",      [false, true,  false], true),
];

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn every_demo_user_may_do_exactly_what_their_roles_and_tenants_allow(pool: PgPool) {
    let orders = orders(&pool).await;
    let app = spawn_app_with_idp(pool.clone()).await;

    for (user, may_read, may_list) in MATRIX {
        let browser = app.fresh_browser();
        browser.sign_in(user).await;
        for (order, allowed) in orders.iter().zip(may_read) {
            let (status, body) = browser.page(&format!("/orders/{}/{}", order.tenant_id, order.order_id)).await;
            if allowed {
                assert_eq!(status, 200, "{user} reads {}: {body}", order.order_number);
                assert!(body.contains(&order.order_number));
            } else {
                assert_eq!(status, 403, "{user} is refused {}", order.order_number);
                assert!(
                    body.contains(&format!("order.read refused: tenant {} is outside your tenant scope.", order.tenant_id)),
                    "{user}: {body}"
                );
                assert!(!body.contains("Customer"), "nothing of the order is shown to {user}");
                let lines = audit_lines(&pool).await;
                assert!(
                    lines.iter().any(|l| l.actor_name == user
                        && l.action == "order.read"
                        && l.outcome == "REFUSED"
                        && l.tenant_id == Some(order.tenant_id.as_uuid())
                        && l.entity_id == Some(order.order_id.as_uuid())),
                    "{user}'s refusal of {} is audited",
                    order.order_number
                );
            }
        }
        let (status, _) = browser.page("/me").await;
        assert_eq!(status == 200, may_list, "{user} on /me: {status}");
    }
}

/// The tenants offered in the lookup form, by slug.
fn offered_tenants(body: &str) -> Vec<String> {
    body.split("<option value=\"")
        .skip(2) // the text before the first option, and the "Choose a tenant…" option
        .filter_map(|rest| rest.split(')').next()?.rsplit('(').next().map(str::to_string))
        .collect()
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_tenant_select_offers_only_the_tenants_in_the_users_scope(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = spawn_app_with_idp(pool).await;
    for (user, expected) in [
        ("vera.viewer", vec!["acme"]),
        ("olga.opsapprover", vec!["acme", "globex"]),
        ("gwen.globex", vec!["globex"]),
        ("oscar.operator", vec!["acme", "globex", "initech", "umbrella"]),
    ] {
        let browser = app.fresh_browser();
        browser.sign_in(user).await;
        let (status, body) = browser.page("/orders").await;
        assert_eq!(status, 200);
        assert_eq!(offered_tenants(&body), expected, "{user}");
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_user_of_tenant_a_cannot_read_tenant_b_by_editing_ids_in_the_url(pool: PgPool) {
    let globex_order = capture_order(&pool, GLOBEX, "Q-GLOBEX-2", "Secret Globex Deal").await;
    let app = spawn_app_with_idp(pool.clone()).await;
    app.sign_in("vera.viewer").await;

    let by_permalink = format!("/orders/{GLOBEX}/{}", globex_order.order_id);
    let by_id = format!("/orders?tenant={GLOBEX}&q={}", globex_order.order_id);
    let by_number = format!("/orders?tenant={GLOBEX}&q={}", encode(&globex_order.order_number));
    for edited in [&by_permalink, &by_id, &by_number] {
        let (status, body) = app.page(edited).await;
        assert_eq!(status, 403, "{edited}");
        assert!(body.contains("Not allowed"), "{body}");
        assert!(body.contains("outside your tenant scope"), "{body}");
        assert!(body.contains("recorded in the audit log"), "{body}");
        assert!(!body.contains("Secret Globex Deal"), "{edited} shows nothing of the order");
        assert!(!body.contains("Globex (globex)"), "{edited} does not even name the tenant");
    }
    // Her own tenant with the other tenant's order id: not found there, nothing leaks.
    let (status, body) = app.page(&format!("/orders/{ACME}/{}", globex_order.order_id)).await;
    assert_eq!(status, 404);
    assert!(!body.contains("Secret Globex Deal"));
    // A tenant that does not exist is refused the same way as one that does: no probing for tenants.
    let (status, _) = app.page(&format!("/orders/{}/{}", TenantId::new(), globex_order.order_id)).await;
    assert_eq!(status, 403);

    let refusals: Vec<_> = audit_lines(&pool)
        .await
        .into_iter()
        .filter(|l| l.action == "order.read" && l.outcome == "REFUSED" && l.actor_name == "vera.viewer")
        .collect();
    assert_eq!(refusals.len(), 4, "{refusals:?}");
    assert_eq!(refusals[0].tenant_id, Some(GLOBEX.as_uuid()));
    assert_eq!(refusals[0].entity_id, Some(globex_order.order_id.as_uuid()));
    assert_eq!(refusals[0].reason.as_deref(), Some(format!("tenant {GLOBEX} is outside your tenant scope").as_str()));
    assert_eq!(refusals[0].detail["permission"], "READ");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_header_names_the_viewer_with_roles_navigation_and_a_sign_out_form(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = spawn_app_with_idp(pool).await;
    app.sign_in("olga.opsapprover").await;

    let (status, body) = app.page("/me").await;

    assert_eq!(status, 200);
    assert!(body.contains(r#"<a href="/me" title="olga.opsapprover" class="whoami-name">Olga Opsapprover</a>"#), "{body}");
    assert!(body.contains(r#"<span aria-label="Roles" class="whoami-roles">operator, approver</span>"#), "{body}");
    assert!(body.contains(r#"<form class="signout" method="post" action="/auth/logout">"#), "{body}");
    assert!(body.contains(r#"href="/orders""#) && body.contains(">Who am I</a>"), "{body}");
    assert!(!body.contains("soon"), "no entries for areas nobody can use yet");
    assert!(body.contains("REQUEST_REPAIR") && body.contains("APPROVE_REPAIR"), "/me lists what she may do");
    assert!(body.contains("Acme Corporation (acme)") && body.contains("Globex (globex)"));
    assert!(!body.contains("Initech"));
}

/// Incident commands through the console's forms, for every demo user signed in through Keycloak: read
/// an acme incident, add a note to it, declare one for acme. Allowed: 303 (or 200 for the page); refused:
/// 403 with the refusal shown and one REFUSED audit line under the user's name. The full command × user
/// matrix runs against the domain in `ops/tests/access_matrix.rs`.
#[rustfmt::skip]
const INCIDENT_MATRIX: [(&str, bool, bool, bool); 7] = [
    //                   read   note   declare
    ("vera.viewer",      true,  false, false),
    ("oscar.operator",   true,  true,  true ),
    ("ada.approver",     true,  false, false),
    ("cora.comms",       true,  false, true ),
    ("adam.admin",       true,  true,  true ),
    ("olga.opsapprover", true,  true,  true ),
    ("gwen.globex",      false, false, false),
];

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn every_demo_user_reads_notes_and_declares_incidents_exactly_as_their_roles_and_tenants_allow(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let system = ops::identity::Actor::system("test");
    let form = ops::incident::DeclareForm {
        severity: "SEV3".into(),
        detected_by: "ALERT".into(),
        summary: "Approval emails bounce for acme".into(),
        tenants: vec![ACME.to_string()],
        ..Default::default()
    };
    let input = ops::incident::IncidentForDeclare::parse(&form).unwrap();
    let incident = ops::incident::declare_incident(&pool, &system, &input).await.unwrap().incident_id;
    let page = format!("/incidents/{incident}");
    let app = spawn_app_with_idp(pool.clone()).await;
    let acme = ACME.to_string();

    for (user, may_read, may_note, may_declare) in INCIDENT_MATRIX {
        let browser = app.fresh_browser();
        browser.sign_in(user).await;
        let refused_before = refusals(&pool, user).await;
        let mut refused = 0;

        let (status, body) = browser.page(&page).await;
        if may_read {
            assert_eq!(status, 200, "{user} reads the incident");
            assert!(body.contains("Approval emails bounce for acme"));
        } else {
            assert_eq!(status, 403, "{user} is refused the incident");
            assert!(!body.contains("Approval emails bounce"), "nothing of it is shown to {user}");
            refused += 1;
        }

        let note = browser
            .post_form(&format!("{page}/notes"), &[("text", "checked the mail relay"), ("entity_ids", "")], Some(crate::helpers::CONSOLE_URL))
            .await;
        assert_eq!(note.status().as_u16(), if may_note { 303 } else { 403 }, "{user} adds a note");
        refused += usize::from(!may_note);

        let declared = browser
            .post_form(
                "/incidents/new",
                &[("severity", "SEV4"), ("detected_by", "OPERATOR"), ("summary", "Dashboard metric missing"), ("tenants", acme.as_str())],
                Some(crate::helpers::CONSOLE_URL),
            )
            .await;
        assert_eq!(declared.status().as_u16(), if may_declare { 303 } else { 403 }, "{user} declares");
        refused += usize::from(!may_declare);

        assert_eq!(refusals(&pool, user).await, refused_before + refused, "{user}'s refusals are each audited");
    }
}

async fn refusals(pool: &PgPool, user: &str) -> usize {
    audit_lines(pool).await.into_iter().filter(|l| l.actor_name == user && l.outcome == "REFUSED").count()
}

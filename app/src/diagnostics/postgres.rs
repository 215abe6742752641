//! The PostgreSQL panel: blocked sessions and what blocks them (§14.1), long transactions, the pool; the
//! §14.3 safety rule beside any advice to terminate a session. Advice only: there is no button.

use leptos::prelude::*;
use ops::diagnostics::postgres::SAFETY_RULE;
use ops::diagnostics::Overview;

use super::seconds;

pub(super) fn body(overview: &Overview) -> AnyView {
    let pg = &overview.postgres;
    let pool = format!(
        "Console pool: {} in use, {} idle, at most {}. Sessions on this database: {} (server limit {}).",
        pg.pool.in_use(),
        pg.pool.idle,
        pg.pool.max,
        pg.connections,
        pg.max_connections
    );
    let terminate_advice = pg.blocking.iter().any(|b| b.blocker_idle_in_transaction())
        || pg.long_transactions.iter().any(|t| t.state.as_deref().is_some_and(|s| s.starts_with("idle in transaction")));
    let safety = terminate_advice.then(safety_rule);
    let blocking = (!pg.blocking.is_empty()).then(|| {
        let rows = pg
            .blocking
            .iter()
            .map(|b| {
                view! {
                    <tr>
                        <td>{b.blocked_pid}</td>
                        <td><code>{b.blocked_query.clone().unwrap_or_default()}</code></td>
                        <td>{seconds(b.blocked_seconds)}</td>
                        <td>{b.blocking_pid} " (" {b.blocking_state.clone().unwrap_or_default()} ")"</td>
                        <td><code>{b.blocking_query.clone().unwrap_or_default()}</code></td>
                        <td>{seconds(b.blocking_transaction_seconds)}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="grid">
                <caption>"Blocked sessions and the sessions blocking them"</caption>
                <thead><tr><th>"Blocked"</th><th>"Its query"</th><th>"Waiting"</th><th>"Blocked by"</th>
                    <th>"Blocker's last query"</th><th>"Blocker's transaction open"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
    });
    let long = (!pg.long_transactions.is_empty()).then(|| {
        let rows = pg
            .long_transactions
            .iter()
            .map(|t| {
                let migration = t.looks_like_migration().then_some(" — looks like a migration");
                view! {
                    <tr>
                        <td>{t.pid}</td>
                        <td>{t.application.clone().unwrap_or_default()}</td>
                        <td>{t.state.clone().unwrap_or_default()}{migration}</td>
                        <td>{seconds(Some(t.transaction_seconds))}</td>
                        <td><code>{t.query.clone().unwrap_or_default()}</code></td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="grid">
                <caption>"Long transactions"</caption>
                <thead><tr><th>"Session"</th><th>"Application"</th><th>"State"</th><th>"Open for"</th><th>"Query"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
    });
    view! { {safety} {blocking} {long} <p>{pool}</p> }.into_any()
}

/// Lesson §14.3, beside every "terminate" advice.
fn safety_rule() -> AnyView {
    let checks = SAFETY_RULE.iter().map(|check| view! { <li>{*check}</li> }).collect_view();
    view! {
        <aside class="notice notice-warn" aria-label="Safety rule">
            <p><strong>"Do not kill database sessions blindly."</strong> " Before pg_terminate_backend, determine:"</p>
            <ol>{checks}</ol>
        </aside>
    }
    .into_any()
}

//! One diagnostic block on a runbook page, rendered to HTML that takes the SQL block's place: what it
//! answers, the SQL, the form with its variables (prefilled from the page's context), and — after a
//! run — each statement's rows, or PostgreSQL's error.

use leptos::prelude::*;
use ops::runbook::{Diagnostic, DiagnosticForm, DiagnosticRun, ParamKind, Runbook, StatementResult, ROW_CAP};

use crate::fields::TextField;
use crate::form::{notice, Rejected};
use crate::format::instant;

fn table(result: &StatementResult) -> AnyView {
    if let Some(error) = &result.error {
        return view! { <p class="notice notice-bad">"PostgreSQL answered: " {error.clone()}</p> }.into_any();
    }
    if result.rows.is_empty() {
        return view! { <p class="notice notice-info">"No rows."</p> }.into_any();
    }
    let head = result.columns.iter().map(|c| view! { <th>{c.clone()}</th> }).collect_view();
    let rows = result
        .rows
        .iter()
        .map(|row| {
            let cells = row
                .iter()
                .map(|v| match v {
                    Some(v) => view! { <td>{v.clone()}</td> }.into_any(),
                    None => view! { <td class="muted">"null"</td> }.into_any(),
                })
                .collect_view();
            view! { <tr>{cells}</tr> }
        })
        .collect_view();
    let more = result.truncated.then(|| view! { <p class="hint">{format!("The first {ROW_CAP} rows are shown; there are more.")}</p> });
    view! {
        <div class="table-scroll">
            <table class="grid result">
                <thead><tr>{head}</tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <p class="hint">{format!("{} row{}", result.rows.len(), if result.rows.len() == 1 { "" } else { "s" })}</p>
        {more}
    }
    .into_any()
}

fn hint(kind: ParamKind) -> &'static str {
    match kind {
        ParamKind::Uuid => "an id",
        ParamKind::Time => "UTC, e.g. 2026-11-28 10:00, or \"24 hours ago\"",
        ParamKind::Name => "a name",
    }
}

/// The block's HTML.
pub(super) fn block(
    book: &Runbook,
    d: &'static Diagnostic,
    context: &DiagnosticForm,
    may_run: bool,
    result: Option<&DiagnosticRun>,
    refused: Option<&Rejected<DiagnosticForm>>,
) -> String {
    let anchor = format!("diagnostic-{}", d.index);
    let posted = refused.map(|r| r.form.clone()).unwrap_or_else(|| context.clone());
    let form = (d.runnable() && may_run).then(|| {
        let fields = d
            .params
            .iter()
            .map(|p| {
                let field = DiagnosticForm::field(&p.name);
                let value = posted.value(&p.name).to_string();
                let value = if value.is_empty() { p.default.unwrap_or_default().to_string() } else { value };
                view! {
                    <TextField id=format!("{anchor}-{}", p.name) name=field label=p.name.as_str() value=value
                        hint=hint(p.kind) error=refused.and_then(|r| r.at(field)) />
                }
            })
            .collect_view();
        let refusal = refused.cloned();
        view! {
            <form method="post" action=format!("/runbooks/{}/diagnostics/{}#{anchor}", book.front.id, d.index) class="form inline-form">
                {notice(&refusal)}
                <input type="hidden" name=DiagnosticForm::FIELDS.incident_id value=context.incident_id.clone()/>
                {fields}
                <button type="submit">"Run (read-only)"</button>
            </form>
        }
    });
    let not_runnable = (!d.runnable()).then(|| {
        view! {
            <p class="notice notice-warn">"This block changes state. It is here to explain, never to run: recovery "
                "goes through a repair command, with its dry-run, approval and evidence."</p>
        }
    });
    let outcome = result.map(|r| {
        let tables = r
            .statements
            .iter()
            .map(|s| {
                let multi = r.statements.len() > 1;
                view! {
                    <div class="statement">
                        {multi.then(|| view! { <pre class="sql-small"><code>{s.sql.clone()}</code></pre> })}
                        {table(s)}
                    </div>
                }
            })
            .collect_view();
        view! {
            <div class="diagnostic-result" role="status">
                <p class="hint">{format!("Ran at {} in {} ms{}", instant(&r.ran_at), r.millis,
                    if r.incident.is_some() { ", recorded on the incident's timeline" } else { "" })}</p>
                {tables}
            </div>
        }
    });
    view! {
        <section class="diagnostic" id=anchor.clone() aria-label=d.title.clone()>
            <p class="diagnostic-title"><strong>{d.title.clone()}</strong>
                {d.runnable().then(|| view! { " " <span class="badge tone-good">"read-only"</span> })}</p>
            <pre><code class="language-sql">{d.sql.clone()}</code></pre>
            {not_runnable}
            {form}
            {outcome}
        </section>
    }
    .to_html()
}


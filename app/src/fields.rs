//! Form fields as every form of the console draws them: a label, the control with its value, and the
//! message when the field was refused (`aria-invalid`, described by the message). Field names come from
//! the form's `FIELDS` (see `ops::form!`), so the page, the handler and the message agree on one spelling.

use leptos::prelude::*;

/// `<option>`s from `(value, label)` pairs, the one equal to `selected` selected.
pub fn options(choices: Vec<(String, String)>, selected: &str) -> AnyView {
    choices
        .into_iter()
        .map(|(value, label)| {
            let is = value == selected;
            view! { <option value=value selected=is>{label}</option> }
        })
        .collect_view()
        .into_any()
}

fn message(id: &str, error: Option<String>) -> Option<AnyView> {
    let id = format!("{id}-error");
    error.map(|m| view! { <p class="field-error" id=id role="alert">{m}</p> }.into_any())
}

/// A one-line text input.
#[component]
pub fn TextField(
    /// Unique on the page: the form's prefix and the field name (`triage-summary`).
    #[prop(into)] id: String,
    name: &'static str,
    label: &'static str,
    value: String,
    #[prop(optional_no_strip)] error: Option<String>,
    #[prop(optional)] disabled: bool,
    #[prop(optional)] hint: Option<&'static str>,
    /// The input's type: "text" unless given ("date", "datetime-local").
    #[prop(optional)]
    kind: Option<&'static str>,
) -> impl IntoView {
    let invalid = error.is_some();
    let described = invalid.then(|| format!("{id}-error"));
    view! {
        <div class="field" class:field-invalid=invalid>
            <label for=id.clone()>{label}</label>
            {hint.map(|h| view! { <small class="hint">{h}</small> })}
            <input
                type=kind.unwrap_or("text")
                id=id.clone()
                name=name
                value=value
                disabled=disabled
                aria-invalid=invalid.then_some("true")
                aria-describedby=described
            />
            {message(&id, error)}
        </div>
    }
}

/// A multi-line text area.
/// Text as the content of a `<textarea>`. Leptos writes a textarea's children as they are (it treats
/// the element like `<script>` and `<style>`), but a browser reads it as RCDATA: character references
/// are decoded and `</textarea>` ends it — so stored text holding `</textarea><script>…` would break out
/// into the page. Escaping `&`, `<` and `>` here closes that, and the person still sees their text as
/// typed. Every textarea's content goes through this.
pub fn textarea_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[component]
pub fn TextArea(
    #[prop(into)] id: String,
    name: &'static str,
    label: &'static str,
    value: String,
    #[prop(optional_no_strip)] error: Option<String>,
    #[prop(optional)] disabled: bool,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] rows: Option<u32>,
) -> impl IntoView {
    let invalid = error.is_some();
    let described = invalid.then(|| format!("{id}-error"));
    view! {
        <div class="field" class:field-invalid=invalid>
            <label for=id.clone()>{label}</label>
            {hint.map(|h| view! { <small class="hint">{h}</small> })}
            <textarea
                id=id.clone()
                name=name
                rows=rows.unwrap_or(3)
                disabled=disabled
                aria-invalid=invalid.then_some("true")
                aria-describedby=described
            >
                {textarea_text(&value)}
            </textarea>
            {message(&id, error)}
        </div>
    }
}

/// A select from `(value, label)` choices.
#[component]
pub fn SelectField(
    #[prop(into)] id: String,
    name: &'static str,
    label: &'static str,
    choices: Vec<(String, String)>,
    selected: String,
    #[prop(optional_no_strip)] error: Option<String>,
    #[prop(optional)] disabled: bool,
) -> impl IntoView {
    let invalid = error.is_some();
    let described = invalid.then(|| format!("{id}-error"));
    view! {
        <div class="field" class:field-invalid=invalid>
            <label for=id.clone()>{label}</label>
            <select
                id=id.clone()
                name=name
                disabled=disabled
                aria-invalid=invalid.then_some("true")
                aria-describedby=described
            >
                {options(choices, &selected)}
            </select>
            {message(&id, error)}
        </div>
    }
}

/// A box per choice, the ones in `checked` ticked; all sent under one name.
#[component]
pub fn CheckboxGroup(
    name: &'static str,
    legend: &'static str,
    choices: Vec<(String, String)>,
    checked: Vec<String>,
    #[prop(optional_no_strip)] error: Option<String>,
    #[prop(optional)] disabled: bool,
) -> impl IntoView {
    let boxes = choices
        .into_iter()
        .map(|(value, label)| {
            let is = checked.contains(&value);
            view! {
                <label class="check">
                    <input type="checkbox" name=name value=value checked=is disabled=disabled/>
                    " " {label}
                </label>
            }
        })
        .collect_view();
    let invalid = error.is_some();
    view! {
        <fieldset class:field-invalid=invalid>
            <legend>{legend}</legend>
            {boxes}
            {error.map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
        </fieldset>
    }
}

#[cfg(test)]
mod textarea_tests {
    use super::*;

    #[test]
    fn stored_text_cannot_close_its_textarea() {
        let html = view! { <TextArea id="note" name="text" label="Note" value="</textarea><script>alert(1)</script> & more".to_string() /> }
            .to_html();
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; more</textarea>"), "{html}");
    }
}

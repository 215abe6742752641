//! A runbook's Markdown as HTML: pulldown-cmark renders, ammonia sanitises (headings keep ids, prefixed so
//! they never clobber the page's own), and each ```` ```sql ```` block becomes a slot the page fills
//! with its diagnostic (the SQL, the form to run it, its results).

use pulldown_cmark::{CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd};

/// The marker a diagnostic's slot carries in the rendered HTML, replaced by [`fill`].
fn marker(index: usize) -> String {
    format!("§§diagnostic-{index}§§")
}

/// A heading's anchor: lowercase words joined by `-` ("Scope Assessment" → `scope-assessment`).
pub fn slug(text: &str) -> String {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// The Markdown as sanitised HTML, the SQL blocks as slots.
pub fn to_html(markdown: &str) -> String {
    let events: Vec<Event<'_>> = Parser::new_ext(markdown, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH).collect();
    let mut out: Vec<Event<'_>> = Vec::with_capacity(events.len());
    let mut in_sql = false;
    let mut index = 0;
    let mut i = 0;
    while i < events.len() {
        let event = events[i].clone();
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(ref lang))) if lang.as_ref() == "sql" => {
                in_sql = true;
                out.push(Event::Start(Tag::Paragraph));
                out.push(Event::Text(CowStr::from(marker(index))));
                out.push(Event::End(TagEnd::Paragraph));
                index += 1;
            }
            Event::End(TagEnd::CodeBlock) if in_sql => in_sql = false,
            _ if in_sql => {}
            Event::Start(Tag::Heading { level, id: None, classes, attrs }) => {
                // The heading's text is in the events up to its end.
                let text: String = events[i + 1..]
                    .iter()
                    .take_while(|e| !matches!(e, Event::End(TagEnd::Heading(_))))
                    .filter_map(|e| match e {
                        Event::Text(t) | Event::Code(t) => Some(t.as_ref()),
                        _ => None,
                    })
                    .collect();
                out.push(Event::Start(Tag::Heading { level, id: Some(CowStr::from(slug(&text))), classes, attrs }));
            }
            // Runbooks are text: raw HTML in them is shown as text, not rendered.
            Event::Html(html) | Event::InlineHtml(html) => out.push(Event::Text(html)),
            other => out.push(other),
        }
        i += 1;
    }
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, out.into_iter());
    ammonia::Builder::default().add_generic_attributes(["id"]).id_prefix(Some("rb-")).clean(&html).to_string()
}

/// Replaces slot `index` (its whole paragraph) with `content` (HTML the page rendered and escaped itself).
pub fn fill(html: &mut String, index: usize, content: &str) {
    let slot = format!("<p>{}</p>", marker(index));
    *html = html.replacen(&slot, content, 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_blocks_become_slots_and_headings_get_prefixed_anchors() {
        let mut html = to_html("## Scope Assessment\n\nText with `code`.\n\n```sql\nselect 1;\n```\n\n```text\nkept\n```\n");
        assert!(html.contains(r#"<h2 id="rb-scope-assessment">Scope Assessment</h2>"#), "{html}");
        assert!(!html.contains("select 1"), "the SQL is the diagnostic's to show");
        assert!(html.contains("<code>kept"), "other code blocks stay");
        fill(&mut html, 0, "<section>diagnostic</section>");
        assert!(html.contains("<section>diagnostic</section>") && !html.contains("§§"), "{html}");
    }

    #[test]
    fn raw_html_and_scripts_are_text_not_markup() {
        let html = to_html("Hello <script>alert(1)</script> and <b onclick=\"x()\">bold</b>\n\n<iframe src=x></iframe>\n");
        assert!(!html.contains("<script") && !html.contains("<iframe") && !html.contains("onclick=\"x()\">"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "shown as text: {html}");
    }
}

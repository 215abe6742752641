//! One runbook file: TOML front matter between `+++` lines, then CommonMark. Parsing finds the sections
//! (`## ` headings) and the diagnostics (```` ```sql ```` fences) with the byte range each occupies, so the
//! page can render the Markdown around them.

use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};

use super::diagnostic::{params_of, Param};

/// What the console reads from a runbook's front matter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    pub id: String,
    pub title: String,
    pub severity_hint: String,
    /// Alert names (`orders_stuck`) that point at this runbook.
    pub alerts: Vec<String>,
    /// Repair types of the console's catalogue the runbook calls for.
    pub repairs: Vec<String>,
    /// Words in an incident's summary or symptom that suggest this runbook.
    #[serde(default)]
    pub signals: Vec<String>,
    /// Kinds of entity the runbook is about (`ORDER`, `QUOTE`, …).
    #[serde(default)]
    pub entities: Vec<String>,
}

/// One SQL statement of a diagnostic block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub sql: String,
    /// A read (`select` or `with`): the console may run it. Anything else is shown, never run.
    pub runnable: bool,
}

/// A ```` ```sql ```` block of a runbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// 0-based position among the runbook's SQL blocks: what the page posts back.
    pub index: usize,
    /// What it answers: the paragraph that introduces it (or its section's heading).
    pub title: String,
    pub section: String,
    pub sql: String,
    pub statements: Vec<Statement>,
    /// The psql-style variables it takes (`:'order_id'`), in order of first use.
    pub params: Vec<Param>,
    /// Where the block sits in the Markdown (the whole fence).
    pub range: Range<usize>,
}

impl Diagnostic {
    /// Every statement is a read: the block can run from the page.
    pub fn runnable(&self) -> bool {
        !self.statements.is_empty() && self.statements.iter().all(|s| s.runnable)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Runbook {
    pub front: FrontMatter,
    /// The Markdown after the front matter.
    pub body: String,
    /// `## ` headings, in order.
    pub sections: Vec<String>,
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunbookError {
    #[error("no front matter between +++ lines at the top")]
    NoFrontMatter,
    #[error("front matter: {0}")]
    FrontMatter(#[from] toml::de::Error),
    #[error("SQL block {index}: {message}")]
    Sql { index: usize, message: String },
}

/// Splits a block into statements at `;` ending a line (how the runbooks write SQL), keeping comments
/// with the statement they precede; a block of only comments has none.
fn statements(sql: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        current.push_str(line);
        current.push('\n');
        if line.trim_end().ends_with(';') && !line.trim_start().starts_with("--") {
            push_statement(&mut out, &current);
            current.clear();
        }
    }
    push_statement(&mut out, &current);
    out
}

fn push_statement(out: &mut Vec<Statement>, text: &str) {
    let code: Vec<&str> = text.lines().filter(|l| !l.trim_start().starts_with("--") && !l.trim().is_empty()).collect();
    if code.is_empty() {
        return;
    }
    let first = code[0].trim_start().split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("").to_ascii_lowercase();
    let sql = text.trim().trim_end_matches(';').trim_end().to_string();
    out.push(Statement { sql, runnable: matches!(first.as_str(), "select" | "with") });
}

fn text_of(events: &[Event<'_>]) -> String {
    let mut text = String::new();
    for event in events {
        match event {
            Event::Text(t) | Event::Code(t) => text.push_str(t),
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            _ => {}
        }
    }
    text.trim().to_string()
}

impl Runbook {
    pub fn parse(text: &str) -> Result<Runbook, RunbookError> {
        let rest = text.strip_prefix("+++\n").ok_or(RunbookError::NoFrontMatter)?;
        let end = rest.find("\n+++\n").ok_or(RunbookError::NoFrontMatter)?;
        let front: FrontMatter = toml::from_str(&rest[..end])?;
        let body = rest[end + "\n+++\n".len()..].to_string();

        let mut sections = Vec::new();
        let mut diagnostics = Vec::new();
        let mut section = String::new();
        // The text of the heading or paragraph being read, and of the last one finished.
        let mut collecting: Option<Vec<Event<'_>>> = None;
        let mut last_paragraph = String::new();
        let mut in_heading: Option<HeadingLevel> = None;
        let mut sql: Option<(String, usize)> = None;
        for (event, range) in Parser::new_ext(&body, Options::ENABLE_TABLES).into_offset_iter() {
            match &event {
                Event::Start(Tag::Heading { level, .. }) => {
                    in_heading = Some(*level);
                    collecting = Some(Vec::new());
                }
                Event::End(TagEnd::Heading(_)) => {
                    let text = text_of(&collecting.take().unwrap_or_default());
                    if in_heading == Some(HeadingLevel::H2) {
                        sections.push(text.clone());
                        section = text.clone();
                    }
                    last_paragraph = text;
                    in_heading = None;
                }
                Event::Start(Tag::Paragraph) => collecting = Some(Vec::new()),
                Event::End(TagEnd::Paragraph) => {
                    last_paragraph = text_of(&collecting.take().unwrap_or_default());
                }
                Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) if lang.as_ref() == "sql" => {
                    sql = Some((String::new(), range.start));
                }
                Event::Text(t) if sql.is_some() => {
                    if let Some((code, _)) = sql.as_mut() {
                        code.push_str(t);
                    }
                }
                Event::End(TagEnd::CodeBlock) => {
                    if let Some((code, start)) = sql.take() {
                        let index = diagnostics.len();
                        let params = params_of(&code).map_err(|message| RunbookError::Sql { index, message })?;
                        let title = last_paragraph.trim_end_matches(':').trim().to_string();
                        diagnostics.push(Diagnostic {
                            index,
                            title: if title.is_empty() { section.clone() } else { title },
                            section: section.clone(),
                            statements: statements(&code),
                            sql: code,
                            params,
                            range: start..range.end,
                        });
                    }
                }
                other => {
                    if let Some(events) = collecting.as_mut() {
                        events.push(other.clone());
                    }
                }
            }
        }
        Ok(Runbook { front, body, sections, diagnostics })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "+++\nid = \"x\"\ntitle = \"X\"\nseverity_hint = \"SEV3\"\nalerts = [\"a\"]\nrepairs = []\n+++\n\n# Runbook: X\n\n## Scope Assessment\n\nThe stuck orders, oldest first:\n\n```sql\n-- oldest first\nselect 1 as one\nfrom oms.sales_order where order_id = :'order_id';\nselect 2;\n```\n\n## Recovery\n\n```sql\nupdate oms.sales_order set status = 'X';\n```\n";

    #[test]
    fn front_matter_sections_and_blocks_are_read() {
        let r = Runbook::parse(SAMPLE).unwrap();
        assert_eq!(r.front.id, "x");
        assert_eq!(r.sections, ["Scope Assessment", "Recovery"]);
        assert_eq!(r.diagnostics.len(), 2);
        let first = &r.diagnostics[0];
        assert_eq!(first.title, "The stuck orders, oldest first");
        assert_eq!(first.statements.len(), 2);
        assert!(first.statements[0].sql.starts_with("-- oldest first\nselect 1"));
        assert!(first.runnable());
        assert_eq!(first.params.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["order_id"]);
        assert!(r.body[first.range.clone()].starts_with("```sql"));
        let second = &r.diagnostics[1];
        assert_eq!(second.title, "Recovery", "without a paragraph the section names it");
        assert!(!second.runnable(), "an update is shown, never run");
    }

    #[test]
    fn a_runbook_without_front_matter_or_with_unknown_keys_is_refused() {
        assert!(matches!(Runbook::parse("# no front matter"), Err(RunbookError::NoFrontMatter)));
        let unknown = SAMPLE.replace("repairs = []", "repairs = []\nowner = \"me\"");
        assert!(matches!(Runbook::parse(&unknown), Err(RunbookError::FrontMatter(_))));
    }
}

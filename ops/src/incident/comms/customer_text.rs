//! The guard on customer-facing text (lesson §20.2): "Do not expose internal implementation details. Say
//! the capability affected and what customer action is needed."
//!
//! [`find_internal_details`] is a pure function over the text. It finds, case-insensitively:
//!
//! * names of the engine, broker, cache, database and platform products we run (Camunda, Operaton, Kafka,
//!   Redis, PostgreSQL/Postgres, Keycloak, …) — as whole words, also inside identifiers written in camel
//!   case (`RedisCache`), but not inside ordinary words ("Redistribution" is fine);
//! * SQL — statements, not the English words: `select * …`, `select … from … where`, `insert into`,
//!   `delete from`, `update t set c =`, `where col = …`, DDL (`drop table`, …), `skip locked`;
//! * stack traces: Java frames (`at com.…`), `panicked at`, `…Exception`, `Exception:`, `Caused by:`,
//!   source locations (`main.rs:42`, `OrderService.java:`), Python tracebacks;
//! * internal hosts and addresses: `*.internal`, `*.local`, `localhost`, IPv4/IPv6 addresses,
//!   `host-1:9092`-style host and port, server paths (`/var/…`);
//! * internal vocabulary: consumer group/lag, outbox, DLT/DLQ/dead letter, job executor, external task,
//!   process instance, advisory lock, deadlock, connection/thread pool, idempotency key, …
//!
//! Every finding is reported with the words as written, so the refusal can list them. It errs towards
//! refusing: a comms owner can always reword, while a leak cannot be taken back.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

/// What kind of internal detail a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Category {
    Product,
    Sql,
    StackTrace,
    InternalHost,
    InternalTerm,
}

impl Category {
    pub fn label(self) -> &'static str {
        match self {
            Category::Product => "internal product name",
            Category::Sql => "SQL",
            Category::StackTrace => "stack trace",
            Category::InternalHost => "internal host or address",
            Category::InternalTerm => "internal term",
        }
    }
}

/// One internal detail: the text as written, and its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub text: String,
    pub category: Category,
}

/// The refusal of a customer-facing text: every internal detail found, in order of appearance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct InternalDetails {
    pub findings: Vec<Finding>,
}

impl InternalDetails {
    /// The offending words as written, in order.
    pub fn words(&self) -> Vec<&str> {
        self.findings.iter().map(|f| f.text.as_str()).collect()
    }
}

impl fmt::Display for InternalDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let listed: Vec<String> =
            self.findings.iter().map(|x| format!("\"{}\" ({})", x.text, x.category.label())).collect();
        write!(
            f,
            "Customers must not see internal details; remove {}. Say which capability is affected and what customers need to do.",
            listed.join(", ")
        )
    }
}

/// Ok when the text is fit for customers; otherwise every internal detail found.
pub fn check_customer_text(text: &str) -> Result<(), InternalDetails> {
    let findings = find_internal_details(text);
    if findings.is_empty() {
        Ok(())
    } else {
        Err(InternalDetails { findings })
    }
}

/// Products we run, lowercase. Matched as whole words or camel-case parts of identifiers.
const PRODUCTS: &[&str] = &[
    "camunda",
    "operaton",
    "zeebe",
    "bpmn",
    "kafka",
    "zookeeper",
    "redis",
    "valkey",
    "memcached",
    "postgres",
    "postgresql",
    "psql",
    "pgbouncer",
    "mysql",
    "mariadb",
    "mongodb",
    "elasticsearch",
    "opensearch",
    "rabbitmq",
    "activemq",
    "keycloak",
    "kubernetes",
    "k8s",
    "kubectl",
    "docker",
    "nginx",
    "haproxy",
    "jvm",
    "hibernate",
    "tomcat",
    "sqlx",
    "tokio",
    "rdkafka",
    "leptos",
    "axum",
];

struct Rule {
    category: Category,
    pattern: Regex,
    /// A second look at a candidate, where a regex alone would catch ordinary text.
    accept: fn(&str) -> bool,
}

fn any(_: &str) -> bool {
    true
}

/// IPv6 candidates: the pattern also matches times such as 12:30:45, which have no `::` and no hex letter.
fn ipv6_like(candidate: &str) -> bool {
    candidate.contains("::") || candidate.chars().any(|c| matches!(c.to_ascii_lowercase(), 'a'..='f'))
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |category, pattern: &str, accept: fn(&str) -> bool| Rule {
        category,
        pattern: Regex::new(&format!("(?i){pattern}")).expect("guard pattern compiles"),
        accept,
    };
    use Category::*;
    vec![
        // SQL statements.
        rule(Sql, r"\bselect\s+(distinct\s+)?\*(\s+from\s+[\w.]+)?", any),
        rule(Sql, r"\bselect\s+(distinct\s+)?(count|sum|min|max|avg)\s*\([^)]*\)", any),
        rule(Sql, r"\bselect\s+[a-z_]\w*[._][\w.]*(\s*,\s*[\w.]+)*(\s+from\s+[\w.]+)?", any),
        rule(Sql, r"\bselect\b[^.!?\n]{1,120}?\bfrom\b[^.!?\n]{1,120}?\bwhere\b", any),
        rule(Sql, r"\binsert\s+into\s+([a-z_]\w*[._][\w.]*|\w+\s*\(|\w+\s+values\b)", any),
        rule(Sql, r"\bdelete\s+from\s+([a-z_]\w*[._][\w.]*|\w+\s+where\b)", any),
        rule(Sql, r"\bupdate\s+[\w.]+\s+set\s+\w+\s*=", any),
        rule(Sql, r"\b(drop|alter|truncate|create)\s+(table|index|schema|database|view)\b(\s+[\w.]+)?", any),
        rule(Sql, r"\bwhere\s+[a-z_][\w.]*\s*(=|<>|!=|<=|>=|\bin\s*\(|\bis\s+(not\s+)?null\b|\blike\b)", any),
        rule(Sql, r"\b(for\s+update\s+)?skip\s+locked\b|\bon\s+conflict\b", any),
        rule(Sql, r"\bjoin\s+[a-z_]\w*[._]\w+(\s+\w+)?\s+on\b", any),
        // Stack traces.
        rule(StackTrace, r"\bat\s+(com|org|java|javax|jdk|sun|io|net|kotlin|scala)\.[\w$.]+(\([^)]*\))?", any),
        rule(StackTrace, r"\bpanicked\s+at\b", any),
        rule(StackTrace, r"\b[a-z][\w$.]*exception\b", any),
        rule(StackTrace, r"\bexception\s*:|\bexception\s+in\s+thread\b|\b(uncaught|unhandled)\s+exception\b", any),
        rule(StackTrace, r"\b(OutOfMemoryError|StackOverflowError|NoClassDefFoundError)\b", any),
        rule(StackTrace, r"\bcaused\s+by\s*:", any),
        rule(StackTrace, r"\btraceback\s*\(most\s+recent\s+call\s+last\)", any),
        rule(StackTrace, r"[\w/-]*\w\.(rs|java|kt|kts|scala|py|go|rb|cs|js|ts):\d*", any),
        rule(
            StackTrace,
            r"\bstack\s*-?\s*trace\b|\bback\s*-?\s*trace\b|\bheap\s+dump\b|\bcore\s+dumped\b|\bsegfault\b|\bsegmentation\s+fault\b|\bnull\s*-?\s*pointer\b|\boom\s*-?\s*killed\b|\boom\b",
            any,
        ),
        // Internal hosts and addresses.
        rule(
            InternalHost,
            r"\b[\w-]+(\.[\w-]+)*\.(internal|local|localdomain|lan|corp|intra|intranet|svc)\b(:\d+)?",
            any,
        ),
        rule(InternalHost, r"\blocalhost\b(:\d+)?", any),
        rule(InternalHost, r"\b(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\b(:\d+)?", any),
        rule(InternalHost, r"(\b[0-9a-f]{1,4})?(:[0-9a-f]{0,4}){2,7}\b", ipv6_like),
        rule(InternalHost, r"\b[a-z][\w-]*[\d-][\w-]*:\d{2,5}\b|\b[a-z][\w-]*(\.[\w-]+)+:\d{2,5}\b", any),
        rule(InternalHost, r"(^|[\s(])/(var|etc|opt|usr|srv|tmp|home|proc|root)/[^\s)]*", any),
        // Internal vocabulary.
        rule(InternalTerm, r"\bconsumer[\s_-]+(groups?|lag|offsets?)\b", any),
        rule(InternalTerm, r"\boutbox(es)?\b", any),
        rule(InternalTerm, r"\b(dlt|dlq)s?\b|\bdead[\s_-]?letter(s|\s+topic|\s+queue)?\b", any),
        rule(InternalTerm, r"\bjob[\s_-]?executors?\b|\bexternal[\s_-]tasks?\b|\bprocess[\s_-]instances?\b", any),
        rule(InternalTerm, r"\badvisory[\s_-]locks?\b|\bdeadlock(s|ed)?\b|\b(connection|thread)[\s_-]pools?\b", any),
        rule(InternalTerm, r"\bidempotency[\s_-]keys?\b|\breplication[\s_-]lag\b", any),
    ]
});

static WORDS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[A-Za-z0-9]+").expect("word pattern compiles"));

/// Every internal detail in `text`, in order of appearance; overlapping findings are reported once (the
/// longest), and the same words twice are reported once.
pub fn find_internal_details(text: &str) -> Vec<Finding> {
    let mut spans: Vec<(usize, usize, Category)> = Vec::new();
    for rule in RULES.iter() {
        for m in rule.pattern.find_iter(text) {
            let s = m.as_str();
            let trimmed = s.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
            let start = m.start() + (s.len() - trimmed.len());
            if !trimmed.is_empty() && (rule.accept)(trimmed) {
                spans.push((start, m.end(), rule.category));
            }
        }
    }
    for word in WORDS.find_iter(text) {
        for (start, end) in camel_parts(word.as_str()).into_iter().chain([(0, word.as_str().len())]) {
            let part = &word.as_str()[start..end];
            if PRODUCTS.contains(&part.to_ascii_lowercase().as_str()) {
                spans.push((word.start() + start, word.start() + end, Category::Product));
            }
        }
    }
    // Longest first at each start, then drop whatever an accepted span already covers.
    spans.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut accepted: Vec<(usize, usize, Category)> = Vec::new();
    for span in spans {
        if accepted.iter().any(|a| span.0 < a.1 && a.0 < span.1) {
            continue;
        }
        accepted.push(span);
    }
    let mut findings: Vec<Finding> = Vec::new();
    for (start, end, category) in accepted {
        let found = text[start..end].trim().to_string();
        if !findings.iter().any(|f| f.text.eq_ignore_ascii_case(&found)) {
            findings.push(Finding { text: found, category });
        }
    }
    findings
}

/// Byte ranges of the camel-case parts of an identifier (`RedisCache` → `Redis`, `Cache`;
/// `HTTPServer` → `HTTP`, `Server`). A word with no inner capital is one part.
fn camel_parts(word: &str) -> Vec<(usize, usize)> {
    let chars: Vec<(usize, char)> = word.char_indices().collect();
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 1..chars.len() {
        let (at, c) = chars[i];
        let prev = chars[i - 1].1;
        let next_lower = chars.get(i + 1).is_some_and(|(_, n)| n.is_lowercase());
        let boundary =
            (c.is_uppercase() && prev.is_lowercase()) || (c.is_uppercase() && prev.is_uppercase() && next_lower);
        if boundary {
            parts.push((start, at));
            start = at;
        }
    }
    parts.push((start, word.len()));
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        find_internal_details(text).into_iter().map(|f| f.text).collect()
    }

    #[track_caller]
    fn refused(text: &str, expected: &[&str]) {
        assert_eq!(words(text), expected, "in {text:?}");
    }

    #[track_caller]
    fn allowed(text: &str) {
        assert_eq!(words(text), Vec::<String>::new(), "in {text:?}");
    }

    #[test]
    fn the_lessons_bad_example_is_refused_with_every_offending_word() {
        refused(
            "Camunda job executor failed because Kafka consumer lag caused order worker retries.",
            &["Camunda", "job executor", "Kafka", "consumer lag"],
        );
    }

    #[test]
    fn the_lessons_better_example_is_allowed() {
        allowed(
            "Some submitted orders are delayed in processing. We have paused affected retries, identified the \
             impacted orders, and are processing them safely. No duplicate orders have been created based on \
             current checks.",
        );
    }

    #[test]
    fn product_names_are_refused_whatever_their_case() {
        refused("redis is slow", &["redis"]);
        refused("REDIS is slow", &["REDIS"]);
        refused("Our PostgreSQL primary failed over", &["PostgreSQL"]);
        refused("postgres restarted", &["postgres"]);
        refused("the Operaton engine is behind", &["Operaton"]);
        refused("Kafka's brokers are fine", &["Kafka"]);
        refused("Keycloak sign-in and k8s nodes", &["Keycloak", "k8s"]);
        refused("a Postgres-based queue", &["Postgres"]);
    }

    #[test]
    fn product_names_inside_identifiers_are_refused() {
        refused("RedisCacheLayer timed out", &["Redis"]);
        refused("the KafkaConsumer stalled", &["Kafka"]);
    }

    #[test]
    fn ordinary_words_that_contain_a_product_name_are_allowed() {
        allowed("Redistribution of the affected orders has started.");
        allowed("Kafkaesque delays are over: orders flow again.");
        allowed("Our engineers are redistributing the workload across regions.");
        allowed("The postage labels for affected shipments are being reprinted.");
    }

    #[test]
    fn sql_statements_are_refused() {
        refused("We ran select * from oms.sales_order to check.", &["select * from oms.sales_order"]);
        refused("SELECT order_id, status FROM orders", &["SELECT order_id, status FROM orders"]);
        refused("select count(*) from orders", &["select count(*)"]);
        refused("select id from orders where tenant = 1", &["select id from orders where"]);
        refused("then UPDATE sales_order SET status = 'FAILED'", &["UPDATE sales_order SET status ="]);
        refused("insert into audit_log happened twice", &["insert into audit_log"]);
        refused("insert into orders values (1)", &["insert into orders values"]);
        refused("We ran delete from outbox_event", &["delete from outbox_event"]);
        refused("rows where status = 'STUCK' were fixed", &["where status ="]);
        refused("someone ran DROP TABLE quotes", &["DROP TABLE quotes"]);
        refused("claims use for update skip locked", &["for update skip locked"]);
    }

    #[test]
    fn english_that_uses_sql_words_is_allowed() {
        allowed("We will update you by 15:00 UTC.");
        allowed("Please select the affected orders from the list in your portal.");
        allowed("Customers who selected express delivery from Monday are not affected.");
        allowed("You may delete from your cart any item you no longer need.");
        allowed("Insert into the portal the order number you received.");
        allowed("Where possible, orders are processed in the order they were received.");
        allowed("Join us on the status page for updates.");
        allowed("We will create a new schedule for deliveries.");
    }

    #[test]
    fn stack_traces_are_refused() {
        refused(
            "java.lang.IllegalStateException: boom at com.acme.order.OrderService.place(OrderService.java:42)",
            &["java.lang.IllegalStateException", "at com.acme.order.OrderService.place(OrderService.java:42)"],
        );
        refused("thread 'main' panicked at src/relay.rs:88", &["panicked at", "src/relay.rs:88"]);
        refused("NullPointerException in the pricing step", &["NullPointerException"]);
        refused("Exception: timeout talking to the vendor", &["Exception:"]);
        refused("Caused by: timeout", &["Caused by:"]);
        refused("see worker.py:12", &["worker.py:12"]);
        refused("Traceback (most recent call last)", &["Traceback (most recent call last)"]);
        refused("the JVM ran out of memory: OutOfMemoryError", &["JVM", "OutOfMemoryError"]);
        refused("we attached the stack trace", &["stack trace"]);
    }

    #[test]
    fn the_english_word_exception_is_allowed() {
        allowed("With the exception of express orders, all orders are processed normally.");
        allowed("This is an exceptional situation and we apologise.");
    }

    #[test]
    fn internal_hosts_and_addresses_are_refused() {
        refused("db01.prod.internal is unreachable", &["db01.prod.internal"]);
        refused("orders-api.cluster.local answered 503", &["orders-api.cluster.local"]);
        refused("we restarted localhost:8080", &["localhost:8080"]);
        refused("traffic to 10.0.3.17 was dropped", &["10.0.3.17"]);
        refused("the service on 127.0.0.1 stopped", &["127.0.0.1"]);
        refused("bound to ::1 and fe80::1ff:fe23:4567:890a", &["::1", "fe80::1ff:fe23:4567:890a"]);
        refused("kafka-1:9092 is down", &["kafka-1:9092"]);
        refused("disk full under /var/lib/data", &["/var/lib/data"]);
    }

    #[test]
    fn times_versions_and_public_words_are_allowed() {
        allowed("Next update at 14:30 UTC; the outage started at 12:05:30 UTC.");
        allowed("Version 2.4 of the portal is not affected.");
        allowed("Local deliveries are on time.");
        allowed("Our support team is available at support.example.com.");
        allowed("Orders placed between 09:00 and 10:30 may show as pending.");
    }

    #[test]
    fn internal_vocabulary_is_refused() {
        refused("the outbox stopped publishing", &["outbox"]);
        refused("events went to the DLT", &["DLT"]);
        refused("messages in the dead-letter queue", &["dead-letter queue"]);
        refused("consumer group order-projection fell behind", &["consumer group"]);
        refused("an external task was retried", &["external task"]);
        refused("a deadlock between two workers", &["deadlock"]);
        refused("the connection pool was exhausted", &["connection pool"]);
    }

    #[test]
    fn a_word_repeated_is_listed_once_in_order_of_appearance() {
        refused("Redis then Kafka then redis again", &["Redis", "Kafka"]);
    }

    #[test]
    fn the_refusal_lists_each_word_with_its_kind() {
        let refusal = check_customer_text("Kafka lag on 10.0.0.5").unwrap_err();
        assert_eq!(refusal.words(), ["Kafka", "10.0.0.5"]);
        let message = refusal.to_string();
        assert!(message.contains("\"Kafka\" (internal product name)"), "{message}");
        assert!(message.contains("\"10.0.0.5\" (internal host or address)"), "{message}");
        assert!(check_customer_text("Orders are delayed; no action is needed from you.").is_ok());
    }

    #[test]
    fn camel_parts_split_identifiers_where_people_read_words() {
        let parts = |w: &str| camel_parts(w).into_iter().map(|(s, e)| w[s..e].to_string()).collect::<Vec<_>>();
        assert_eq!(parts("RedisCache"), ["Redis", "Cache"]);
        assert_eq!(parts("HTTPServer"), ["HTTP", "Server"]);
        assert_eq!(parts("redistribution"), ["redistribution"]);
        assert_eq!(parts("k8s"), ["k8s"]);
    }
}

//! The guard on customer-facing text (lesson §20.2): "Do not expose internal implementation details. Say
//! the capability affected and what customer action is needed."
//!
//! [`find_internal_details`] is a pure function over the text. It reads the text as a customer would see
//! it — full-width letters, look-alikes from other alphabets (Cyrillic `а`, Greek `Ρ`) and invisible
//! characters normalised away (`normalise.rs`) — and finds, case-insensitively (`rules.rs`):
//!
//! * names of the engine, broker, cache, database and platform products we run (Camunda, Operaton, Kafka,
//!   Redis, PostgreSQL/Postgres, Keycloak, …) — as whole words, with a version glued on (`redis7`, `pg15`),
//!   also inside identifiers written in camel case (`RedisCache`), but not inside ordinary words
//!   ("Redistribution" is fine);
//! * SQL — statements, not the English words: `select * …`, `select id from orders`, `insert into`,
//!   `delete from`, `update t set c =`, `where col = …`, DDL (`drop table`, …), `skip locked`; "please
//!   select another date from your portal where available" is English;
//! * stack traces: Java, JavaScript, .NET, Python and Go frames, `panicked at`, `…Exception`, `Caused by:`,
//!   source locations (`main.rs:42`, `OrderService.java:`);
//! * HTTP status lines and codes: `HTTP/1.1 503 Service Unavailable`, `HTTP 500`, `status code 502`,
//!   `returned a 504`, `5xx`, `Bad Gateway` — but a number alone is a count ("500 orders are delayed");
//! * internal hosts and addresses: `*.internal`, `*.local`, `localhost`, IPv4/IPv6 addresses,
//!   `host-1:9092`, machine names (`orders-db-01`, `ip-10-0-0-12`, `prod-eu-west-1a`), API and server
//!   paths (`/api/…`, `/var/…`);
//! * infrastructure and internal vocabulary: pods, brokers, partitions, replicas, shards, clusters, load
//!   balancers, message queues, worker nodes, VMs, …; consumer group/lag, outbox, DLT/DLQ, job executor,
//!   advisory lock, connection/thread pool, idempotency key, …
//!
//! Every finding is reported with the words as written, so the refusal can list them. It errs towards
//! refusing: a comms owner can always reword, while a leak cannot be taken back.

#[cfg(test)]
mod corpus;
mod normalise;
mod rules;

use std::fmt;

use serde::Serialize;

use normalise::Normalised;
use rules::Span;

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

/// Every internal detail in `text`, in order of appearance; overlapping findings are reported once (the
/// longest), and the same words twice are reported once.
pub fn find_internal_details(text: &str) -> Vec<Finding> {
    let read = Normalised::of(text);
    let mut spans: Vec<Span> = Vec::new();
    rules::rule_spans(read.as_str(), &mut spans);
    rules::product_spans(read.as_str(), &mut spans);
    // Longest first at each start, then drop whatever an accepted span already covers.
    spans.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut accepted: Vec<Span> = Vec::new();
    for span in spans {
        if accepted.iter().any(|a| span.0 < a.1 && a.0 < span.1) {
            continue;
        }
        accepted.push(span);
    }
    let mut findings: Vec<Finding> = Vec::new();
    for (start, end, category) in accepted {
        let found = text[read.written_range(start..end)].trim().to_string();
        if !findings.iter().any(|f| f.text.eq_ignore_ascii_case(&found)) {
            findings.push(Finding { text: found, category });
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::rules::camel_parts;
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
        // "brokers" became an internal word with the infrastructure nouns (issue 8).
        refused("Kafka's brokers are fine", &["Kafka", "brokers"]);
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
        // A status code after "answered" became a finding with the HTTP rules (issue 8).
        refused("orders-api.cluster.local answered 503", &["orders-api.cluster.local", "answered 503"]);
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

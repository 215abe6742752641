//! The guard's corpus: sentences a comms owner writes, which must pass, and leaks, which must be refused
//! with exactly the words listed. Every row is checked and every mismatch reported at once, so a change
//! to a rule shows all it breaks.

use super::find_internal_details;

/// Ordinary customer updates, several chosen because a careless rule would catch them.
const MUST_PASS: &[&str] = &[
    "Some submitted orders are delayed in processing. No action is needed from you.",
    "Please select another date from your portal where available.",
    "Please select delivery from Monday onwards.",
    "Please select the delivery window that suits you from the list in your portal.",
    "We will update you by 15:00 UTC.",
    "500 orders are delayed; we are processing them in the order they were received.",
    "Order SO-2026-000042 has been confirmed and will ship tomorrow.",
    "Your order number looks like SO-2026-000042 and is shown on your confirmation email.",
    "Invoice INV-2026-0042 was sent twice; please pay only once.",
    "Version 2.4.1 of the customer portal is not affected.",
    "The mobile app version 5.2 shows the correct order status again.",
    "For live updates, visit https://status.example.com.",
    "Our support team is available at support.example.com and by phone.",
    "Quotes created between 09:00 and 10:30 UTC may show as pending.",
    "Next update at 14:30 UTC; the outage started at 12:05:30 UTC.",
    "No duplicate orders have been created based on current checks.",
    "Invoices for March will be issued on 2026-04-02 instead of 2026-04-01.",
    "If your order is still pending after 18:00 CET, please contact support@example.com.",
    "Shipping containers are held at the port of Rotterdam; deliveries may arrive two days late.",
    "Your customs broker may contact you about the held shipments.",
    "A cluster of payment failures in the Nordics has been resolved.",
    "Please sign in again and re-submit any quote you started after 14:00.",
    "Follow-up emails with tracking links will be sent within 24 hours.",
    "Orders placed by phone are not affected.",
    "We have restored order processing; 1,250 delayed orders are being worked through.",
    "Customers in the EU region may see slower confirmations until 16:30 CEST.",
    "Where possible, please avoid editing open orders until we confirm the fix.",
    "You can update your delivery address from your account page.",
    "Returned items will be refunded within 5 working days.",
    "Our support team received 300 calls and is answering them in order.",
    "Order confirmations are being sent again; you may receive a duplicate email, which you can ignore.",
    "Contract renewals due on 30 April are extended to 7 May at no cost.",
    "We have added capacity and response times are back to normal.",
    "Up-to-date order status is available in the portal at any time.",
    "Orders from Monday to Wednesday are affected; orders from Thursday are not.",
    "With the exception of express orders, all orders are processed normally.",
    "Service is restored for all customers; no further action is needed.",
    "Checkout was unavailable for 20 minutes; orders placed since 10:20 UTC are confirmed.",
    "We found 404 orders with a missing confirmation and have resent them.",
    "We processed 503 of the 520 delayed orders; the rest will follow by 18:00.",
    "A 500-order backlog from this morning has been cleared.",
    "Customers who received a 500 euro credit note can use it on their next order.",
    "Replacement coffee pods will ship with your next order.",
    "Please upload the signed POD for each delivery as usual.",
    "Error messages shown in the portal this morning have been removed.",
    "Please clear your browser cache and sign in again.",
    "Our warehouse workers are prioritising same-day orders.",
    "Delivery slots in zone-3 are full; please pick another slot.",
    "Top-10 customers will be contacted by their account manager.",
    "Moisture ingress damaged some parcels at our Leeds depot; replacements are on the way.",
    "Status: resolved. Orders placed during the incident were processed by 11:45 UTC.",
    "We reprocessed 120 orders and 3 quotes; no action is needed.",
    "COVID-19 related delivery restrictions no longer apply.",
    "Prices on page 2 of the quote were rounded incorrectly; corrected quotes will follow.",
    "Les commandes pass\u{e9}es avant 10:00 sont confirm\u{e9}es.",
];

/// Leaks, by what they leak, with the words the refusal must list, as written and in order.
const MUST_REFUSE: &[(&str, &str, &[&str])] = &[
    // SQL, with and without `where`.
    ("sql", "We ran select id from orders where tenant = 42 to find them.", &["select id from orders where"]),
    ("sql", "select status from sales_order", &["select status from sales_order"]),
    ("sql", "SELECT id, total FROM invoices", &["SELECT id, total FROM invoices"]),
    ("sql", "Someone ran DELETE FROM quotes by hand", &["DELETE FROM quotes"]),
    ("sql", "update orders set status = 'SHIPPED' was run by hand", &["update orders set status ="]),
    ("sql", "insert into invoice_line (order_id) values (42) failed", &["insert into invoice_line"]),
    ("sql", "we had to truncate table outbox_event", &["truncate table outbox_event"]),
    ("sql", "the query select * from oms.sales_order timed out", &["select * from oms.sales_order"]),
    ("sql", "the DBA ran VACUUM FULL overnight", &["VACUUM FULL"]),
    // HTTP status lines and codes.
    ("http", "The portal answered HTTP/1.1 503 Service Unavailable.", &["HTTP/1.1 503 Service Unavailable"]),
    ("http", "Checkout returned HTTP 500 for some customers.", &["HTTP 500"]),
    ("http", "The pricing call failed with status code 502.", &["status code 502"]),
    ("http", "The tax service returned a 504 to some requests.", &["returned a 504"]),
    ("http", "We saw a spike of 5xx errors.", &["5xx"]),
    ("http", "Customers got error 503 when opening quotes.", &["error 503"]),
    ("http", "The page showed 503 Service Unavailable.", &["503 Service Unavailable"]),
    ("http", "Requests ended in Bad Gateway responses.", &["Bad Gateway"]),
    ("http", "Some calls hit a Gateway Timeout.", &["Gateway Timeout"]),
    ("http", "Users received a 500 error on checkout.", &["received a 500 error"]),
    ("http", "The quote page returned 404 Not Found for new quotes.", &["404 Not Found"]),
    ("http", "a burst of 429s from the payment provider", &["429s"]),
    ("http", "Internal Server Error on the quote page", &["Internal Server Error"]),
    ("http", "GET /api/v1/orders timed out", &["GET /api/v1/orders"]),
    // Stack frames.
    (
        "stack",
        "at com.acme.billing.InvoiceJob.run(InvoiceJob.java:118)",
        &["at com.acme.billing.InvoiceJob.run(InvoiceJob.java:118)"],
    ),
    ("stack", "thread 'main' panicked at src/outbox/relay.rs:88:13", &["panicked at", "src/outbox/relay.rs:88:13"]),
    (
        "stack",
        "File \"/srv/app/pricing.py\", line 42, in quote_total",
        &["File \"/srv/app/pricing.py\", line 42, in quote_total"],
    ),
    ("stack", "goroutine 17 [running]: in the pricing step", &["goroutine 17 [running]:"]),
    (
        "stack",
        "Caused by: java.net.SocketTimeoutException: Read timed out",
        &["Caused by:", "java.net.SocketTimeoutException"],
    ),
    ("stack", "at Object.quoteTotal (/srv/app/pricing.js:10:5)", &["at Object.quoteTotal (/srv/app/pricing.js:10:5)"]),
    // Host names.
    ("host", "orders-db-01 ran out of disk space", &["orders-db-01"]),
    ("host", "kafka-broker-2 was restarted", &["kafka-broker-2"]),
    ("host", "traffic from ip-10-0-0-12 was blocked", &["ip-10-0-0-12"]),
    ("host", "worker-node-7 was drained", &["worker-node-7"]),
    ("host", "Our prod-eu-west-1a zone is degraded", &["prod-eu-west-1a"]),
    ("host", "The pricing-svc is degraded", &["pricing-svc"]),
    ("host", "payments-api-3.eu.example.net timed out", &["payments-api-3.eu.example.net"]),
    ("host", "the copy on node7 lagged", &["node7"]),
    // Infrastructure nouns.
    ("infra", "Two pods were restarted overnight.", &["pods"]),
    ("infra", "One broker lost its partitions.", &["broker", "partitions"]),
    ("infra", "A replica fell behind the primary.", &["replica"]),
    ("infra", "We added a shard to spread the load.", &["shard"]),
    ("infra", "The cluster was upgraded last night.", &["cluster"]),
    ("infra", "The load balancer dropped connections.", &["load balancer"]),
    ("infra", "Messages piled up in the message queue.", &["message queue"]),
    ("infra", "A kafka topic partition was reassigned.", &["kafka", "topic partition"]),
    ("infra", "The ingress controller was misconfigured.", &["ingress controller"]),
    ("infra", "A daemonset rollout and a StatefulSet restart caused the delay.", &["daemonset", "StatefulSet"]),
    ("infra", "The hypervisor hosting our VMs failed.", &["hypervisor", "VMs"]),
    ("infra", "The worker node pool was resized.", &["worker node pool"]),
    ("infra", "The containers restarted after the config change.", &["containers restarted"]),
    ("infra", "A cron job did not run.", &["cron job"]),
    // Product names glued to digits.
    ("product", "After the upgrade to redis7 and kafka3, orders slowed.", &["redis7", "kafka3"]),
    ("product", "pg15 took 40 seconds to fail over", &["pg15"]),
    ("product", "We migrated to postgres16 last night", &["postgres16"]),
    ("product", "camunda7 restarted twice", &["camunda7"]),
    ("product", "the k8s upgrade is done", &["k8s"]),
    ("product", "The Java17 heap was exhausted", &["Java17"]),
    // Look-alike characters, reported as written.
    ("look-alike", "K\u{430}fka lag delayed orders", &["K\u{430}fka"]),
    ("look-alike", "\u{ff32}\u{ff45}\u{ff44}\u{ff49}\u{ff53} is slow", &["\u{ff32}\u{ff45}\u{ff44}\u{ff49}\u{ff53}"]),
    ("look-alike", "\u{3a1}ostgres restarted", &["\u{3a1}ostgres"]),
    ("look-alike", "Ka\u{200b}fka is behind", &["Ka\u{200b}fka"]),
    ("look-alike", "Post\u{ad}gres is behind", &["Post\u{ad}gres"]),
    (
        "look-alike",
        "\u{ff53}\u{ff45}\u{ff4c}\u{ff45}\u{ff43}\u{ff54} \u{ff0a} \u{ff46}\u{ff52}\u{ff4f}\u{ff4d} orders",
        &["\u{ff53}\u{ff45}\u{ff4c}\u{ff45}\u{ff43}\u{ff54} \u{ff0a} \u{ff46}\u{ff52}\u{ff4f}\u{ff4d} orders"],
    ),
    ("look-alike", "HTTP \u{ff15}\u{ff10}\u{ff13} from the tax service", &["HTTP \u{ff15}\u{ff10}\u{ff13}"]),
    ("look-alike", "orders\u{2010}db\u{2010}01 is down", &["orders\u{2010}db\u{2010}01"]),
    ("look-alike", "Kubern\u{435}tes pods were evicted", &["Kubern\u{435}tes", "pods"]),
    ("look-alike", "the \u{399}NGRESS was misrouted", &["\u{399}NGRESS"]),
];

fn words(text: &str) -> Vec<String> {
    find_internal_details(text).into_iter().map(|f| f.text).collect()
}

#[test]
fn ordinary_customer_updates_pass_the_guard() {
    let caught: Vec<String> = MUST_PASS
        .iter()
        .filter_map(|text| {
            let found = words(text);
            (!found.is_empty()).then(|| format!("{text:?} was refused for {found:?}"))
        })
        .collect();
    assert!(caught.is_empty(), "ordinary text refused:\n{}", caught.join("\n"));
}

#[test]
fn leaks_are_refused_with_the_words_as_written() {
    let wrong: Vec<String> = MUST_REFUSE
        .iter()
        .filter_map(|(area, text, expected)| {
            let found = words(text);
            (found != *expected).then(|| format!("{area}: {text:?} gave {found:?}, expected {expected:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "leaks not refused as expected:\n{}", wrong.join("\n"));
}

#[test]
fn the_corpus_covers_every_kind_of_leak_the_issue_names() {
    assert!(MUST_PASS.len() >= 40, "{} must-pass texts", MUST_PASS.len());
    assert!(MUST_REFUSE.len() >= 40, "{} must-refuse texts", MUST_REFUSE.len());
    for area in ["sql", "http", "stack", "host", "infra", "product", "look-alike"] {
        let rows = MUST_REFUSE.iter().filter(|(a, _, _)| *a == area).count();
        assert!(rows >= 5, "only {rows} must-refuse texts for {area}");
    }
}

//! What the guard looks for, over the normalised text (see [`super::normalise`]): one table of patterns,
//! and the names of the products we run.
//!
//! A pattern may name two groups. `hit` is the part reported, where the pattern needs context around it
//! (`returned a 504` is a status code only when no noun follows: "received a 500 euro credit" is not).
//! `ordinary` is a qualifier that makes the words ordinary English ("customs broker", "coffee pods",
//! "a cluster of"): a match that has it is no finding.

use std::sync::LazyLock;

use regex::Regex;

use super::Category;

/// A finding's byte range in the normalised text, and its kind.
pub(super) type Span = (usize, usize, Category);

/// Products we run, lowercase. Matched as whole words or camel-case parts of identifiers, with or without
/// a version glued on (`redis7`, `postgres16`).
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
    "k3s",
    "kubectl",
    "etcd",
    "ec2",
    "docker",
    "vmware",
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

/// Names that are ours only with a version glued on: `pg15` is PostgreSQL 15 and `java17` a runtime, while
/// "PG" and "Java" alone may be anything.
const VERSIONED_ONLY: &[&str] = &["pg", "jdk", "jre", "java", "python", "ubuntu", "debian", "rhel", "centos"];

/// Parts of a hyphenated name that no English word is: `orders-db`, `pricing-svc` are services.
const SERVICE_ABBREVIATIONS: &[&str] = &["db", "svc", "srv", "api", "gw", "mq", "rmq", "pg", "k8s", "vm", "zk"];

/// Parts of a hyphenated name that are English words but name a machine when a number ends the name:
/// `worker-node-7`, `kafka-broker-2`, `prod-3` (while "worker-friendly" and "node-based" are English).
const MACHINE_WORDS: &[&str] = &[
    "worker",
    "node",
    "broker",
    "replica",
    "primary",
    "secondary",
    "master",
    "leader",
    "follower",
    "shard",
    "pod",
    "cluster",
    "server",
    "host",
    "cache",
    "queue",
    "proxy",
    "gateway",
    "ingress",
    "relay",
    "consumer",
    "producer",
    "cron",
    "prod",
    "production",
    "staging",
    "stg",
    "dev",
    "qa",
    "uat",
    "backend",
    "frontend",
    "web",
    "app",
];

/// Words after `select … from` that show English, not a table: "select delivery from Monday", "select a
/// date from your portal".
const ENGLISH_AFTER_FROM: &[&str] = &[
    "the",
    "a",
    "an",
    "your",
    "our",
    "their",
    "his",
    "her",
    "its",
    "my",
    "this",
    "that",
    "these",
    "those",
    "any",
    "all",
    "each",
    "every",
    "one",
    "some",
    "today",
    "tomorrow",
    "yesterday",
    "now",
    "here",
    "there",
    "home",
    "next",
    "last",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// HTTP reason phrases no sentence uses for anything else.
const REASONS: &str = r"service\s+(?:temporarily\s+)?unavailable|internal\s+server\s+error|bad\s+gateway|gateway\s+time-?\s?out|bad\s+request|too\s+many\s+requests|request\s+time-?\s?out|unprocessable\s+(?:entity|content)|payload\s+too\s+large|not\s+implemented|method\s+not\s+allowed|unsupported\s+media\s+type|precondition\s+failed";
/// HTTP reason phrases that are also plain English ("120 not found in our records"): only as a server
/// writes them, in title case.
const TITLE_CASE_REASONS: &str = r"(?-i:OK|Created|Accepted|No Content|Moved Permanently|Found|See Other|Not Modified|Temporary Redirect|Permanent Redirect|Unauthorized|Forbidden|Not Found|Not Acceptable|Conflict|Gone|Locked)";
/// A status code. Bare three-digit numbers are counts ("500 orders are delayed"), so every rule that uses
/// it needs context that makes the number a response.
const CODE: &str = r"[1-5][0-9]{2}";
/// The codes a leak quotes as nouns ("a 502 response"), where other numbers would be counts.
const ERROR_CODE: &str = r"(?:400|401|403|404|405|408|409|410|413|415|422|429|500|501|502|503|504)";
/// Verbs that make the code after them a response: "returned a 504", "failed with a 500".
const RESPONDED: &str = r"(?:return(?:ed|s|ing)?|respond(?:ed|s|ing)?\s+with|answer(?:ed|s|ing)?(?:\s+with)?|fail(?:ed|s|ing)?\s+with|error(?:ed|s|ing)?\s+with|thr(?:ew|ows?|owing))";
/// Verbs that make a code after an article a response ("got a 500", "saw the 503 again") but take counts
/// too ("received 300 calls"), so they need the article and an ending.
const MET: &str = r"(?:g[eo]t(?:s|ting)?|receiv(?:ed|es|ing)|gave|giv(?:es?|ing)|serv(?:ed|es|ing)|saw|se(?:e|es|en|eing)|hit(?:s|ting)?)";
/// What may follow a quoted code: the end of a clause, or a word that starts a new phrase (not a noun, as
/// in "a 500 euro credit").
const CLAUSE_ENDS: &str = r#"(?:\s*$|\s*[.,;:!?)"']|\s+(?:from|when|for|on|to|at|in|after|while|because|and|but|or|again|instead|back|page|screen|message|code)\b)"#;

struct Rule {
    category: Category,
    pattern: Regex,
    /// A second look at the whole match, where a pattern alone would catch ordinary text.
    accept: fn(&str) -> bool,
}

fn any(_: &str) -> bool {
    true
}

/// IPv6 candidates: the pattern also matches times such as 12:30:45, which have no `::` and no hex letter.
fn ipv6_like(candidate: &str) -> bool {
    candidate.contains("::") || candidate.chars().any(|c| matches!(c.to_ascii_lowercase(), 'a'..='f'))
}

/// `select … from X` is a statement unless X is a word English puts there.
fn from_a_table(candidate: &str) -> bool {
    let lower = candidate.to_ascii_lowercase();
    let mut words = lower.split_whitespace().skip_while(|w| *w != "from").skip(1);
    words.next().is_some_and(|target| !ENGLISH_AFTER_FROM.contains(&target))
}

/// "POD" in capitals is a proof of delivery, which customers are asked for; "pods" are Kubernetes'.
fn not_proof_of_delivery(candidate: &str) -> bool {
    !candidate.starts_with("POD")
}

/// Hyphenated names of machines and services, with any domain after them: `orders-db-01`,
/// `kafka-broker-2.eu.example.net`, `pricing-svc`; not `SO-2026-000042`, `COVID-19` or `follow-up`.
fn internal_host_name(candidate: &str) -> bool {
    candidate.split('.').any(internal_host_label)
}

fn internal_host_label(label: &str) -> bool {
    let lower = label.to_ascii_lowercase();
    let parts: Vec<&str> = lower.split('-').collect();
    if parts.len() < 2 {
        return false;
    }
    if parts.iter().any(|p| SERVICE_ABBREVIATIONS.contains(p)) {
        return true;
    }
    let numbered = |p: &str| {
        let letters = p.trim_start_matches(|c: char| c.is_ascii_digit());
        letters.len() < p.len() && letters.len() <= 1 && letters.chars().all(|c| c.is_ascii_alphabetic())
    };
    if !parts.last().is_some_and(|p| numbered(p)) {
        return false;
    }
    let names_a_machine =
        parts.iter().any(|p| MACHINE_WORDS.contains(&p.trim_end_matches(|c: char| c.is_ascii_digit())));
    // Two words and a number, written in lowercase as hosts are: `pricing-engine-3`. Capitals are a
    // name people gave something ("Black-Friday-2025").
    let words = parts.iter().filter(|p| !numbered(p) && p.chars().any(|c| c.is_ascii_alphabetic())).count();
    names_a_machine || (words >= 2 && label == lower)
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
        rule(
            Sql,
            r"\bselect\s+(distinct\s+)?[a-z_][\w.]*(\s*,\s*[a-z_][\w.]*)*\s+from\s+[a-z_][\w.]*(\s+where\b)?",
            from_a_table,
        ),
        rule(Sql, r"(?-i:\bSELECT\s+[^;!?\n]{1,80}?\s+FROM\s+[A-Za-z_][\w.]*)", any),
        rule(
            Sql,
            r"(?-i:\bDELETE\s+FROM\s+[A-Za-z_][\w.]*|\bINSERT\s+INTO\s+[A-Za-z_][\w.]*|\bUPDATE\s+[A-Za-z_][\w.]*\s+SET\b)",
            any,
        ),
        rule(Sql, r"\binsert\s+into\s+([a-z_]\w*[._][\w.]*|\w+\s*\(|\w+\s+values\b)", any),
        rule(Sql, r"\bdelete\s+from\s+([a-z_]\w*[._][\w.]*|\w+\s+where\b)", any),
        rule(Sql, r"\bupdate\s+[\w.]+\s+set\s+\w+\s*=", any),
        rule(Sql, r"\b(drop|alter|truncate|create)\s+(table|index|schema|database|view)\b(\s+[\w.]+)?", any),
        rule(Sql, r"\bwhere\s+[a-z_][\w.]*\s*(=|<>|!=|<=|>=|\bin\s*\(|\bis\s+(not\s+)?null\b|\blike\b)", any),
        rule(Sql, r"\b(for\s+update\s+)?skip\s+locked\b|\bon\s+conflict\b", any),
        rule(Sql, r"\bjoin\s+[a-z_]\w*[._]\w+(\s+\w+)?\s+on\b", any),
        rule(
            Sql,
            r"\bvacuum\s+(full|analy[sz]e|verbose)\b|\bexplain\s+analy[sz]e\b|\breindex\s+(table|index|database)\b",
            any,
        ),
        // Stack traces.
        rule(StackTrace, r"\bat\s+(com|org|java|javax|jdk|sun|io|net|kotlin|scala)\.[\w$.]+(\([^)]*\))?", any),
        rule(StackTrace, r"\bat\s+(async\s+)?[\w$.<>]+\s+\([^)\s]*:\d+(:\d+)?\)", any),
        rule(StackTrace, r"\bat\s+[\w.]+\([^)]*\)\s+in\s+\S+:line\s+\d+", any),
        rule(StackTrace, r#"\bfile\s+"[^"\n]+",\s+line\s+\d+(,\s+in\s+[\w<>.]+)?"#, any),
        rule(StackTrace, r"\bgoroutine\s+\d+\s+\[[\w ,]+\]:?", any),
        rule(StackTrace, r"\bpanicked\s+at\b", any),
        rule(StackTrace, r"\b[a-z][\w$.]*exception\b", any),
        rule(StackTrace, r"\bexception\s*:|\bexception\s+in\s+thread\b|\b(uncaught|unhandled)\s+exception\b", any),
        rule(StackTrace, r"\b(OutOfMemoryError|StackOverflowError|NoClassDefFoundError)\b", any),
        rule(StackTrace, r"\bcaused\s+by\s*:", any),
        rule(StackTrace, r"\btraceback\s*\(most\s+recent\s+call\s+last\)", any),
        rule(StackTrace, r"[\w/-]*\w\.(rs|java|kt|kts|scala|py|go|rb|cs|js|ts):\d*(:\d+)?", any),
        rule(StackTrace, r"\b0x[0-9a-f]{6,}\b", any),
        rule(
            StackTrace,
            r"\bstack\s*-?\s*trace\b|\bback\s*-?\s*trace\b|\bheap\s+dump\b|\bcore\s+dumped\b|\bsegfault\b|\bsegmentation\s+fault\b|\bnull\s*-?\s*pointer\b|\boom\s*-?\s*killed\b|\boom\b",
            any,
        ),
        // HTTP status lines and codes: internal whichever way they are quoted.
        rule(
            InternalTerm,
            &format!(r"\bhttps?/[0-9](\.[0-9])?(\s+{CODE}\b(\s+({REASONS}|{TITLE_CASE_REASONS})\b)?)?"),
            any,
        ),
        rule(InternalTerm, &format!(r"\bhttps?\s+((status|error|response)\s+)?(codes?\s+)?{CODE}\b"), any),
        rule(InternalTerm, r"\bhttps?\s+((status|error|response)(es|s)?(\s+codes?)?|codes?)\b", any),
        rule(InternalTerm, &format!(r"\b(status|response|return|error)\s+codes?\s*[:=#]?\s*{CODE}\b"), any),
        rule(InternalTerm, &format!(r"\b(error|status)\s*[:=#]?\s*{CODE}\b"), any),
        rule(InternalTerm, &format!(r"\b{CODE}\s+({REASONS}|{TITLE_CASE_REASONS})\b"), any),
        rule(InternalTerm, r"\b(bad\s+gateway|gateway\s+time-?\s?outs?|internal\s+server\s+errors?)\b", any),
        rule(InternalTerm, r"\b[1-5]xxs?\b", any),
        rule(InternalTerm, &format!(r"\b{ERROR_CODE}s\b"), any),
        rule(InternalTerm, &format!(r"\b(?P<hit>{ERROR_CODE}\s+(error|response)){CLAUSE_ENDS}"), any),
        rule(
            InternalTerm,
            &format!(
                r"\b(?P<hit>({RESPONDED}|{MET})\s+(an?|the)\s+{CODE}(\s+(errors?|responses?|status))?){CLAUSE_ENDS}"
            ),
            any,
        ),
        rule(
            InternalTerm,
            &format!(r#"\b(?P<hit>{RESPONDED}\s+{CODE}(\s+(errors?|responses?))?)(\s*$|\s*[.,;:!?)"'])"#),
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
        rule(InternalHost, r"\b[a-z0-9]+(-[a-z0-9]+)+(\.[a-z0-9-]*[a-z0-9])*", internal_host_name),
        rule(InternalHost, r"\bip-[0-9]{1,3}(-[0-9]{1,3}){3}\b", any),
        rule(InternalHost, r"\b(db|srv|svc|vm|broker|worker|node|pod|shard|replica|host|server)[0-9]+[a-z]?\b", any),
        rule(
            InternalHost,
            r"\b((prod|production|staging|stg|dev|qa|uat)-)?(us|eu|ap|sa|ca|me|af|il|mx|cn)-(gov-)?(north|south|east|west|central|northeast|northwest|southeast|southwest)-[0-9][a-z]?\b",
            any,
        ),
        rule(
            InternalHost,
            r"\b(europe|asia|australia|northamerica|southamerica|us|me|africa)-(north|south|east|west|central|northeast|northwest|southeast|southwest)[0-9](-[a-z])?\b",
            any,
        ),
        rule(InternalHost, r"(?-i:\b(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+/[^\s]*)", any),
        rule(
            InternalHost,
            r#"(^|[\s("'])(?P<hit>/(api|v[0-9]+|internal|admin|actuator|healthz?|readyz|livez|metrics|graphql)(/[^\s)"']*)?)"#,
            any,
        ),
        // Infrastructure: what runs the capability, never the capability. Words that are also everyday
        // English ("node", "server", "database", "queue", "cache", "worker", "topic", "instance") are left
        // to the rules above; "container" is refused only in software phrases, since shipping containers
        // are what an order-to-cash update talks about.
        rule(
            InternalTerm,
            r"\b(?P<ordinary>(coffee|tea|espresso|detergent|dishwasher|laundry|storage|sleeping|delivery|seed|pea|escape)\s+)?pods?\b",
            not_proof_of_delivery,
        ),
        rule(
            InternalTerm,
            r"\b(?P<ordinary>(customs|insurance|freight|mortgage|energy|ticket|stock|trade|travel|real\s+estate)\s+)?brokers?\b",
            any,
        ),
        rule(InternalTerm, r"\b(topic\s+)?partition(s|ed|ing)?\b", any),
        rule(InternalTerm, r"\b(read\s+)?replicas?\b|\b(daemon|stateful|replica)[\s-]?sets?\b", any),
        rule(InternalTerm, r"\bshard(s|ed|ing)?\b", any),
        rule(InternalTerm, r"\bclusters?\b(?P<ordinary>\s+of\b)?", any),
        rule(
            InternalTerm,
            r"\b(sidecar|init|docker|app|application|service)\s+containers?\b|\bcontainers?\s+(restart\w*|image\w*|runtime|registr(y|ies)|crash\w*|orchestration|limits?|logs?|memory|cpu|oom\w*|kill\w*|evict\w*)",
            any,
        ),
        rule(InternalTerm, r"\bload[\s-]?balancers?\b|\bmessage[\s-]?(queues?|brokers?|bus(es)?)\b", any),
        rule(
            InternalTerm,
            r"\b(?P<ordinary>(water|moisture|dust|air|rain)\s+)?ingress(es)?([\s-]controllers?)?\b",
            any,
        ),
        rule(InternalTerm, r"\b(worker|compute)[\s-]nodes?([\s-]?pools?)?\b|\bnode[\s-]?pools?\b", any),
        rule(
            InternalTerm,
            r"\bkubelets?\b|\bhypervisors?\b|\bvms?\b|\bvirtual\s+machines?\b|\bnamespaces?\b|\bcron[\s-]?jobs?\b|\bmicro[\s-]?services?\b|\bapi[\s-]gateways?\b|\bservice[\s-]mesh(es)?\b|\bauto[\s-]?scal(er|ers|ing)\b|\bs3\s+buckets?\b|\bhelm\s+(charts?|releases?)\b",
            any,
        ),
        // Internal vocabulary.
        rule(InternalTerm, r"\bconsumer[\s_-]+(groups?|lag|offsets?)\b", any),
        rule(InternalTerm, r"\boutbox(es)?\b", any),
        rule(InternalTerm, r"\b(dlt|dlq)s?\b|\bdead[\s_-]?letter(s|\s+topic|\s+queue)?\b", any),
        rule(InternalTerm, r"\bjob[\s_-]?executors?\b|\bexternal[\s_-]tasks?\b|\bprocess[\s_-]instances?\b", any),
        rule(InternalTerm, r"\badvisory[\s_-]locks?\b|\bdeadlock(s|ed)?\b|\b(connection|thread)[\s_-]pools?\b", any),
        rule(InternalTerm, r"\bidempotency[\s_-]keys?\b|\breplication[\s_-]lag\b", any),
    ]
});

/// Every rule's findings in `text`, in no particular order and overlapping.
pub(super) fn rule_spans(text: &str, spans: &mut Vec<Span>) {
    for rule in RULES.iter() {
        for found in rule.pattern.captures_iter(text) {
            let whole = found.get(0).expect("a match has group 0");
            if found.name("ordinary").is_some() || !(rule.accept)(whole.as_str()) {
                continue;
            }
            let hit = found.name("hit").unwrap_or(whole);
            let s = hit.as_str();
            let trimmed = s.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
            if !trimmed.is_empty() {
                spans.push((hit.start() + (s.len() - trimmed.len()), hit.end(), rule.category));
            }
        }
    }
}

static WORDS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[A-Za-z0-9]+").expect("word pattern compiles"));

/// Product names in `text`: whole words and camel-case parts, with or without a version glued on.
pub(super) fn product_spans(text: &str, spans: &mut Vec<Span>) {
    for word in WORDS.find_iter(text) {
        for (start, end) in camel_parts(word.as_str()).into_iter().chain([(0, word.as_str().len())]) {
            if names_a_product(&word.as_str()[start..end]) {
                spans.push((word.start() + start, word.start() + end, Category::Product));
            }
        }
    }
}

fn names_a_product(part: &str) -> bool {
    let lower = part.to_ascii_lowercase();
    let stem = lower.trim_end_matches(|c: char| c.is_ascii_digit());
    PRODUCTS.contains(&lower.as_str())
        || (stem.len() < lower.len() && (PRODUCTS.contains(&stem) || VERSIONED_ONLY.contains(&stem)))
}

/// Byte ranges of the camel-case parts of an identifier (`RedisCache` → `Redis`, `Cache`;
/// `HTTPServer` → `HTTP`, `Server`; `Redis7Cache` → `Redis7`, `Cache`). A word with no inner capital is
/// one part.
pub(super) fn camel_parts(word: &str) -> Vec<(usize, usize)> {
    let chars: Vec<(usize, char)> = word.char_indices().collect();
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 1..chars.len() {
        let (at, c) = chars[i];
        let prev = chars[i - 1].1;
        let next_lower = chars.get(i + 1).is_some_and(|(_, n)| n.is_lowercase());
        let boundary =
            c.is_uppercase() && (prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower));
        if boundary {
            parts.push((start, at));
            start = at;
        }
    }
    parts.push((start, word.len()));
    parts
}

//! The console's one long-lived Kafka client: a consumer that never joins a group and never commits,
//! owned by a thread of its own. It follows `__consumer_offsets` (every group's commits, with their
//! times), and on request observes every group: its committed offset per partition, the partition's log
//! end offset, and the time stamp of the oldest record the group has not consumed (read from the
//! partition itself). The readiness probe asks the same client for metadata.
//!
//! One per process and broker list ([`KafkaWatch::shared`]): built once, never per scrape or per page;
//! librdkafka reconnects by itself when Kafka comes back.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::metadata::Metadata;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio::sync::oneshot;

use super::offsets_topic::{self, Commit};

/// How long one call to Kafka may block.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// How long catching up with `__consumer_offsets`, and reading the oldest unconsumed records, may take
/// in one observation.
const READ_BUDGET: Duration = Duration::from_secs(3);
/// At most this many partitions are read for their oldest unconsumed record per observation.
const MAX_PEEKS: usize = 500;
/// The prefix of this client's own (never committed) group id.
pub const OWN_GROUP_PREFIX: &str = "opsdeck-diagnostics-";

/// One group's position on one partition, as an observation saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    pub committed_offset: i64,
    pub committed_at: DateTime<Utc>,
    pub log_end_offset: i64,
    /// The time stamp of the record at the committed offset (or the first one after it still kept), when
    /// the group has lag and it could be read.
    pub oldest_unconsumed_at: Option<DateTime<Utc>>,
}

impl Position {
    pub fn lag(&self) -> i64 {
        (self.log_end_offset - self.committed_offset).max(0)
    }
}

/// Every group's positions at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub at: DateTime<Utc>,
    pub positions: Vec<Position>,
}

enum Request {
    Observe(oneshot::Sender<Result<Observation, String>>),
}

/// A handle on the long-lived client; cheap to clone.
#[derive(Clone)]
pub struct KafkaWatch {
    consumer: Arc<BaseConsumer>,
    requests: mpsc::Sender<Request>,
}

impl std::fmt::Debug for KafkaWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaWatch").finish_non_exhaustive()
    }
}

impl KafkaWatch {
    /// The process's client for `brokers`, built on first use.
    pub fn shared(brokers: &str) -> Result<KafkaWatch, String> {
        static WATCHES: OnceLock<Mutex<HashMap<String, KafkaWatch>>> = OnceLock::new();
        let mut watches = WATCHES.get_or_init(Default::default).lock().map_err(|_| "kafka watch lock poisoned")?;
        if let Some(watch) = watches.get(brokers) {
            return Ok(watch.clone());
        }
        let watch = KafkaWatch::start(brokers)?;
        watches.insert(brokers.to_string(), watch.clone());
        Ok(watch)
    }

    fn start(brokers: &str) -> Result<KafkaWatch, String> {
        let timeout = CALL_TIMEOUT.as_millis().to_string();
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", format!("{OWN_GROUP_PREFIX}{}", uuid::Uuid::now_v7()))
            .set("client.id", "opsdeck-diagnostics")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("socket.timeout.ms", &timeout)
            .set("socket.connection.setup.timeout.ms", &timeout)
            // Peeked partitions need one record each, not a prefetch of megabytes.
            .set("queued.max.messages.kbytes", "1024")
            .set("log_level", "3")
            .create()
            .map_err(|e| format!("kafka client: {e}"))?;
        let consumer = Arc::new(consumer);
        let (requests, inbox) = mpsc::channel();
        let owned = Arc::clone(&consumer);
        std::thread::Builder::new()
            .name("kafka-watch".into())
            .spawn(move || Follower::new(owned).run(inbox))
            .map_err(|e| format!("kafka watch thread: {e}"))?;
        Ok(KafkaWatch { consumer, requests })
    }

    /// Every group's positions now. Fails (with why) when Kafka does not answer.
    pub async fn observe(&self) -> Result<Observation, String> {
        let (reply, answer) = oneshot::channel();
        self.requests.send(Request::Observe(reply)).map_err(|_| "the kafka watch thread has ended".to_string())?;
        match tokio::time::timeout(CALL_TIMEOUT * 3 + READ_BUDGET * 2, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err("the kafka watch thread dropped the request".into()),
            Err(_) => Err("kafka did not answer in time".into()),
        }
    }

    /// The cluster's metadata, through the same client (the readiness probe): "N broker(s), M topic(s)".
    pub async fn probe(&self) -> Result<String, String> {
        let consumer = Arc::clone(&self.consumer);
        tokio::task::spawn_blocking(move || {
            let metadata = consumer.fetch_metadata(None, CALL_TIMEOUT).map_err(|e| e.to_string())?;
            if metadata.brokers().is_empty() {
                return Err("metadata lists no brokers".to_string());
            }
            Ok(format!("{} broker(s), {} topic(s)", metadata.brokers().len(), metadata.topics().len()))
        })
        .await
        .map_err(|e| format!("probe task failed: {e}"))?
    }
}

/// The thread's state: the latest commit of every (group, topic, partition), and how far it has read.
struct Follower {
    consumer: Arc<BaseConsumer>,
    commits: BTreeMap<(String, String, i32), Commit>,
    /// Next offset to read per `__consumer_offsets` partition; empty until assigned.
    read_to: HashMap<i32, i64>,
    /// Partitions assigned to read one record, with the offset asked for, and what was read.
    peeking: HashMap<(String, i32), i64>,
    peeked: HashMap<(String, i32, i64), DateTime<Utc>>,
    last_assign_attempt: Option<Instant>,
}

impl Follower {
    fn new(consumer: Arc<BaseConsumer>) -> Self {
        Follower {
            consumer,
            commits: BTreeMap::new(),
            read_to: HashMap::new(),
            peeking: HashMap::new(),
            peeked: HashMap::new(),
            last_assign_attempt: None,
        }
    }

    fn run(mut self, inbox: mpsc::Receiver<Request>) {
        loop {
            if self.read_to.is_empty() && self.last_assign_attempt.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
                let _ = self.assign_offsets_topic(None);
            }
            self.poll(Duration::from_millis(200));
            loop {
                match inbox.try_recv() {
                    Ok(Request::Observe(reply)) => {
                        let _ = reply.send(self.observe());
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => return,
                }
            }
        }
    }

    /// Starts following `__consumer_offsets` from its beginning (it is compacted: the latest commit of
    /// every group is there).
    fn assign_offsets_topic(&mut self, metadata: Option<&Metadata>) -> Result<(), String> {
        self.last_assign_attempt = Some(Instant::now());
        let fetched;
        let metadata = match metadata {
            Some(m) => m,
            None => {
                fetched = self.consumer.fetch_metadata(Some(offsets_topic::TOPIC), CALL_TIMEOUT).map_err(|e| e.to_string())?;
                &fetched
            }
        };
        let Some(topic) = metadata.topics().iter().find(|t| t.name() == offsets_topic::TOPIC) else { return Ok(()) };
        if topic.partitions().is_empty() {
            return Ok(());
        }
        let mut assignment = TopicPartitionList::new();
        for partition in topic.partitions() {
            assignment
                .add_partition_offset(offsets_topic::TOPIC, partition.id(), Offset::Beginning)
                .map_err(|e| e.to_string())?;
        }
        self.consumer.assign(&assignment).map_err(|e| e.to_string())?;
        self.read_to = topic.partitions().iter().map(|p| (p.id(), 0)).collect();
        Ok(())
    }

    /// Reads what arrives within `timeout`: commits into the map, peeked records into `peeked`.
    fn poll(&mut self, timeout: Duration) {
        let Some(result) = self.consumer.poll(timeout) else { return };
        let Ok(message) = result else { return };
        if message.topic() == offsets_topic::TOPIC {
            self.read_to.insert(message.partition(), message.offset() + 1);
            let Some(key) = message.key() else { return };
            if let Some(record) = offsets_topic::parse(key, message.payload()) {
                let id = (record.group, record.topic, record.partition);
                match record.commit {
                    Some(commit) => {
                        self.commits.insert(id, commit);
                    }
                    None => {
                        self.commits.remove(&id);
                    }
                }
            }
        } else {
            let tp = (message.topic().to_string(), message.partition());
            if let Some(asked) = self.peeking.remove(&tp) {
                let at = message.timestamp().to_millis().and_then(DateTime::from_timestamp_millis);
                if let Some(at) = at {
                    self.peeked.insert((tp.0.clone(), tp.1, asked), at);
                }
                let mut done = TopicPartitionList::new();
                done.add_partition(&tp.0, tp.1);
                let _ = self.consumer.incremental_unassign(&done);
            }
        }
    }

    fn observe(&mut self) -> Result<Observation, String> {
        let metadata = self.consumer.fetch_metadata(None, CALL_TIMEOUT).map_err(|e| format!("kafka: {e}"))?;
        if self.read_to.is_empty() {
            self.assign_offsets_topic(Some(&metadata))?;
        }
        self.catch_up()?;
        let at = Utc::now();

        let partitions: HashMap<&str, Vec<i32>> = metadata
            .topics()
            .iter()
            .map(|t| (t.name(), t.partitions().iter().map(|p| p.id()).collect()))
            .collect();
        let watched: Vec<(&(String, String, i32), &Commit)> = self
            .commits
            .iter()
            .filter(|((group, topic, partition), _)| {
                !group.starts_with(OWN_GROUP_PREFIX)
                    && topic != offsets_topic::TOPIC
                    // Offsets of deleted topics outlive them until they expire: not a consumer's lag.
                    && partitions.get(topic.as_str()).is_some_and(|ps| ps.contains(partition))
            })
            .collect();
        let log_ends = self.log_ends(watched.iter().map(|((_, topic, partition), _)| (topic.as_str(), *partition)))?;
        let mut positions = Vec::new();
        for ((group, topic, partition), commit) in watched {
            let Some(&log_end) = log_ends.get(&(topic.clone(), *partition)) else { continue };
            positions.push(Position {
                group: group.clone(),
                topic: topic.clone(),
                partition: *partition,
                committed_offset: commit.offset.max(0),
                committed_at: commit.committed_at,
                log_end_offset: log_end.max(0),
                oldest_unconsumed_at: None,
            });
        }
        self.read_oldest_unconsumed(&mut positions);
        Ok(Observation { at, positions })
    }

    /// Reads `__consumer_offsets` up to its end as of now, so every commit made before this observation
    /// is in the map.
    fn catch_up(&mut self) -> Result<(), String> {
        let ends: HashMap<i32, i64> = self
            .log_ends(self.read_to.keys().map(|&p| (offsets_topic::TOPIC, p)))?
            .into_iter()
            .map(|((_, partition), end)| (partition, end))
            .collect();
        let deadline = Instant::now() + READ_BUDGET;
        while ends.iter().any(|(p, end)| self.read_to.get(p).is_some_and(|read| read < end)) {
            if Instant::now() > deadline {
                tracing::warn!("__consumer_offsets not read to its end within the budget; commits may be late");
                break;
            }
            self.poll(Duration::from_millis(50));
        }
        Ok(())
    }

    /// The log end offset of every partition asked for, in one ListOffsets request per broker (one
    /// `fetch_watermarks` per partition costs a round trip each: 50 of them for `__consumer_offsets`
    /// alone took longer than a sampling round).
    fn log_ends<'a>(&self, tps: impl Iterator<Item = (&'a str, i32)>) -> Result<HashMap<(String, i32), i64>, String> {
        let mut asked = TopicPartitionList::new();
        for (topic, partition) in tps {
            if asked.find_partition(topic, partition).is_none() {
                // A "time stamp" of -1 (Offset::End) asks for the latest offset.
                asked.add_partition_offset(topic, partition, Offset::End).map_err(|e| e.to_string())?;
            }
        }
        if asked.count() == 0 {
            return Ok(HashMap::new());
        }
        let answered = self.consumer.offsets_for_times(asked, CALL_TIMEOUT).map_err(|e| format!("kafka log end offsets: {e}"))?;
        let mut ends = HashMap::new();
        for tp in answered.elements() {
            if let Err(error) = tp.error() {
                return Err(format!("kafka log end offset of {}/{}: {error}", tp.topic(), tp.partition()));
            }
            if let Offset::Offset(end) = tp.offset() {
                ends.insert((tp.topic().to_string(), tp.partition()), end);
            }
        }
        Ok(ends)
    }

    /// Fills `oldest_unconsumed_at` for the positions with lag: each partition is assigned at the
    /// committed offset until its first record arrives, a round per distinct offset of a partition.
    fn read_oldest_unconsumed(&mut self, positions: &mut [Position]) {
        self.peeked.clear();
        let mut wanted: Vec<(String, i32, i64)> = positions
            .iter()
            .filter(|p| p.lag() > 0)
            .map(|p| (p.topic.clone(), p.partition, p.committed_offset))
            .collect();
        wanted.sort();
        wanted.dedup();
        wanted.truncate(MAX_PEEKS);
        let deadline = Instant::now() + READ_BUDGET;
        while !wanted.is_empty() && Instant::now() < deadline {
            // One offset per partition per round.
            let mut round: HashMap<(String, i32), i64> = HashMap::new();
            wanted.retain(|(topic, partition, offset)| {
                let fresh = !round.contains_key(&(topic.clone(), *partition));
                if fresh {
                    round.insert((topic.clone(), *partition), *offset);
                }
                !fresh
            });
            let mut assignment = TopicPartitionList::new();
            for ((topic, partition), offset) in &round {
                let _ = assignment.add_partition_offset(topic, *partition, Offset::Offset(*offset));
            }
            if self.consumer.incremental_assign(&assignment).is_err() {
                break;
            }
            self.peeking = round;
            while !self.peeking.is_empty() && Instant::now() < deadline {
                self.poll(Duration::from_millis(50));
            }
            if !self.peeking.is_empty() {
                let mut rest = TopicPartitionList::new();
                for (topic, partition) in self.peeking.keys() {
                    rest.add_partition(topic, *partition);
                }
                let _ = self.consumer.incremental_unassign(&rest);
                self.peeking.clear();
            }
        }
        for position in positions.iter_mut().filter(|p| p.lag() > 0) {
            position.oldest_unconsumed_at =
                self.peeked.get(&(position.topic.clone(), position.partition, position.committed_offset)).copied();
        }
    }
}

//! One engine answer per order shared by everyone looking at it for [`FRESH`].
//!
//! During an incident many people open the same order, and a page refreshes it; each view used to ask the
//! engine again (three or four REST round trips, which cost the engine more CPU than the whole page costs
//! the console). Views of one order within [`FRESH`] of an answer share it, and views that arrive while the
//! engine is being asked wait for that one request instead of sending their own. The page says when the
//! engine was read.
//!
//! Staleness is bounded by [`FRESH`]. A command that changes anything (a repair, a control, a drill step)
//! empties this replica's cache when it commits ([`forget_all`]), so the page an operator is sent to after
//! acting reads the engine again; another replica's command is seen within [`FRESH`]. Changes the engine
//! makes by itself (a worker completing a task, an incident raised) are seen within [`FRESH`] as well.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::EngineView;

/// How long one answer of the engine serves the views of one order.
pub const FRESH: Duration = Duration::from_secs(1);

/// Beyond this many orders, answers past [`FRESH`] are dropped before a new one is kept.
const MAX_ORDERS: usize = 4096;

/// The engine's REST root and the order.
type Key = (String, Uuid);
type Answer = (EngineView, DateTime<Utc>);

struct Slot {
    asked: Instant,
    answer: Arc<OnceCell<Answer>>,
}

/// Answers by engine and order.
#[derive(Default)]
pub struct EngineViews {
    slots: Mutex<HashMap<Key, Slot>>,
}

/// This replica's answers.
pub static ENGINE_VIEWS: LazyLock<EngineViews> = LazyLock::new(EngineViews::default);

impl EngineViews {
    /// The engine's view of `order` from `engine` and when it was read: the shared answer while it is
    /// fresh, otherwise the one `ask` gives (asked once however many views arrive meanwhile).
    pub async fn shared(&self, engine: &str, order: Uuid, ask: impl AsyncFnOnce() -> EngineView) -> Answer {
        let cell = {
            let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let now = Instant::now();
            let key = (engine.to_string(), order);
            match slots.get(&key) {
                Some(slot) if now.duration_since(slot.asked) < FRESH => slot.answer.clone(),
                _ => {
                    if slots.len() >= MAX_ORDERS {
                        slots.retain(|_, slot| now.duration_since(slot.asked) < FRESH);
                    }
                    let answer = Arc::new(OnceCell::new());
                    slots.insert(key, Slot { asked: now, answer: answer.clone() });
                    answer
                }
            }
        };
        // A view that gives up waiting (its client went away) leaves the asking to the next one.
        cell.get_or_init(async || (ask().await, Utc::now())).await.clone()
    }

    /// Forgets every answer: the next view of any order asks the engine.
    pub fn forget_all(&self) {
        self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
    }
}

/// Forgets this replica's answers (a command committed).
pub fn forget_all() {
    ENGINE_VIEWS.forget_all();
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn view(n: usize) -> EngineView {
        EngineView::Unavailable(format!("answer {n}"))
    }

    #[tokio::test]
    async fn views_of_one_order_share_one_answer_while_it_is_fresh_and_ask_again_after() {
        let views = EngineViews::default();
        let asked = AtomicUsize::new(0);
        let ask = async || view(asked.fetch_add(1, Ordering::SeqCst));
        // The engine takes a while, so the other views arrive while it is being asked.
        let slow = async || {
            let n = asked.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            view(n)
        };
        let (order, engine) = (Uuid::now_v7(), "http://engine.test");

        let (a, b, c, d) = tokio::join!(
            views.shared(engine, order, slow),
            views.shared(engine, order, slow),
            views.shared(engine, order, slow),
            views.shared(engine, order, slow)
        );
        assert_eq!(asked.load(Ordering::SeqCst), 1, "views at once wait for the one request");
        assert!([&a, &b, &c, &d].iter().all(|x| x.0 == view(0) && x.1 == a.1), "one answer, one time");

        // Another order, or another engine, is asked for itself.
        assert_eq!(views.shared(engine, Uuid::now_v7(), ask).await.0, view(1));
        assert_eq!(views.shared("http://other.test", order, ask).await.0, view(2));
        assert_eq!(views.shared(engine, order, ask).await.0, view(0), "still fresh");

        // Past FRESH the engine is asked again, and that answer is shared in turn.
        tokio::time::sleep(FRESH + Duration::from_millis(50)).await;
        assert_eq!(views.shared(engine, order, ask).await.0, view(3));
        assert_eq!(views.shared(engine, order, ask).await.0, view(3));
    }

    #[tokio::test]
    async fn after_forget_all_the_next_view_asks_the_engine() {
        let views = EngineViews::default();
        let (order, engine) = (Uuid::now_v7(), "http://engine.test");
        assert_eq!(views.shared(engine, order, async || view(10)).await.0, view(10));
        assert_eq!(views.shared(engine, order, async || view(11)).await.0, view(10));
        views.forget_all();
        assert_eq!(views.shared(engine, order, async || view(12)).await.0, view(12));
    }
}

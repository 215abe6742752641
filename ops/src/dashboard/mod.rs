//! The three dashboards of lesson §19 — executive, service owner, incident — as figures that answer
//! questions. The server samples every figure at a fixed interval into `ops.figure_sample` (so charts
//! have history that survives restarts and is the same on every replica) and exports the latest round as
//! Prometheus gauges (`opsdeck_<figure>`); pages read the samples, never the live tables.

mod cache;
mod figures;
pub mod grafana;
mod sample;
mod view;

pub use figures::{figure, Alarm, Board, Figure, Total, FIGURES};
pub use sample::{compute, export_latest, latest, run_sampler, sample_round, Sample};
pub use cache::{CacheOutcome, FigureCache};
pub use view::{board, BoardView, Panel};

//! The Redis panel: PING round trip, hit ratio and evictions since the previous sample, memory.

use leptos::prelude::*;
use ops::diagnostics::redis::RedisStats;
use ops::diagnostics::Overview;

use super::ready_or;
use crate::format::instant;

pub(super) fn body(overview: &Overview) -> AnyView {
    ready_or(&overview.redis, stats)
}

fn stats(s: &RedisStats) -> AnyView {
    let ratio = s.hit_ratio.map(|r| format!("{:.1} %", r * 100.0)).unwrap_or_else(|| "no lookups".into());
    let memory = match s.memory_use() {
        Some(used) => format!("{} bytes, {:.0} % of maxmemory", s.latest.used_memory_bytes, used * 100.0),
        None => format!("{} bytes (no maxmemory)", s.latest.used_memory_bytes),
    };
    view! {
        <dl class="facts">
            <div><dt>"PING"</dt><dd>{format!("{:.1} ms", s.latest.ping_seconds * 1000.0)}</dd></div>
            <div><dt>"Hit ratio"</dt><dd>{ratio} " (" {s.lookups} " lookups since the previous sample)"</dd></div>
            <div><dt>"Evictions"</dt><dd>{s.evictions} " since the previous sample, " {s.latest.evicted_keys} " in all"</dd></div>
            <div><dt>"Memory"</dt><dd>{memory}</dd></div>
            <div><dt>"Clients"</dt><dd>{s.latest.connected_clients}</dd></div>
            <div><dt>"Read"</dt><dd>{instant(&s.latest.observed_at)}</dd></div>
        </dl>
    }
    .into_any()
}

//! The world a seed run writes into: tenants, their approval policies, products, customers and people.
//!
//! Tenants and policies are created once and reused by later runs (check-and-skip), so running the seed
//! again adds data to the same tenants under the same policies.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::ids::TenantId;
use crate::tenants;

/// The name of the approval policy the seed creates (and finds again) for each tenant.
pub const POLICY_NAME: &str = "Standard commercial approval";

/// Extra tenants' names; more than the list holds get numbered names.
const EXTRA_TENANTS: [(&str, &str); 8] = [
    ("hooli", "Hooli"),
    ("soylent", "Soylent Corp"),
    ("vandelay", "Vandelay Industries"),
    ("cyberdyne", "Cyberdyne Systems"),
    ("wonka", "Wonka Industries"),
    ("tyrell", "Tyrell Corporation"),
    ("aperture", "Aperture Science"),
    ("oscorp", "Oscorp"),
];

/// A fixed id per extra tenant, so later runs find the tenants the first one created.
pub(super) fn extra_tenant_id(k: u32) -> TenantId {
    TenantId::from_uuid(Uuid::from_u128(0x20000000_0000_4000_8000_000000000000 + u128::from(k)))
}

fn extra_tenant(k: u32) -> (String, String) {
    match EXTRA_TENANTS.get(k as usize - 1) {
        Some((slug, name)) => ((*slug).to_owned(), (*name).to_owned()),
        None => (format!("tenant-{k:03}"), format!("Tenant {k}")),
    }
}

pub(super) struct Tenant {
    pub id: Uuid,
    pub currency: &'static str,
    /// Share of the generated business.
    pub weight: u32,
    pub vendor: &'static str,
    pub reps: Vec<String>,
    pub approvers: Vec<String>,
    pub escalation_approver: String,
    pub policy: Policy,
}

pub(super) struct Policy {
    pub policy_id: Uuid,
    /// Ascending by version.
    pub versions: Vec<PolicyVersion>,
    /// The same in every version the seed creates, so whether a quote needs approval does not depend on
    /// the version in force (only the discount threshold moves, and lines are drafted clear of both).
    pub max_total_minor: i64,
    pub sla_ms: i64,
}

pub(super) struct PolicyVersion {
    pub version: i32,
    pub max_discount_bp: i32,
    /// Epoch ms from which this version applies.
    pub active_from: i64,
}

impl Policy {
    /// The version in force at `at`.
    pub fn version_at(&self, at: i64) -> &PolicyVersion {
        self.versions.iter().rev().find(|v| v.active_from <= at).unwrap_or(&self.versions[0])
    }

    /// The largest discount no version asks approval for.
    pub fn low_discount_bp(&self) -> i32 {
        self.versions.iter().map(|v| v.max_discount_bp).min().unwrap_or(0)
    }

    /// The smallest discount every version asks approval for.
    pub fn high_discount_bp(&self) -> i32 {
        self.versions.iter().map(|v| v.max_discount_bp).max().unwrap_or(0) + 100
    }
}

/// Creates the well-known tenants and `extra` more (both idempotent), and returns them with their
/// approval policies (created when missing).
pub(super) async fn prepare(
    pool: &sqlx::PgPool,
    conn: &mut PgConnection,
    extra: u32,
    now_ms: i64,
) -> crate::Result<Vec<Tenant>> {
    tenants::ensure_well_known(pool).await?;
    for k in 1..=extra {
        let (slug, name) = extra_tenant(k);
        sqlx::query(
            "insert into platform.tenant (tenant_id, slug, name, tier) values ($1, $2, $3, $4) on conflict do nothing",
        )
        .bind(extra_tenant_id(k))
        .bind(slug)
        .bind(name)
        .bind(if k % 3 == 0 { "TRIAL" } else { "STANDARD" })
        .execute(&mut *conn)
        .await?;
    }

    let mut wanted: Vec<(TenantId, u32, &'static str, &'static str)> = vec![
        (tenants::ACME, 30, "EUR", "shipfast"),
        (tenants::GLOBEX, 25, "USD", "parcelnet"),
        (tenants::INITECH, 15, "USD", "parcelnet"),
        (tenants::UMBRELLA, 10, "GBP", "shipfast"),
    ];
    wanted.extend((1..=extra).map(|k| (extra_tenant_id(k), 8, "EUR", "shipfast")));

    let mut out = Vec::with_capacity(wanted.len());
    for (index, (id, weight, currency, vendor)) in wanted.into_iter().enumerate() {
        // A slug already taken by another tenant leaves an extra tenant out; the rest go on.
        let Some(slug) = sqlx::query_scalar::<_, String>("select slug from platform.tenant where tenant_id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
        else {
            continue;
        };
        let policy = ensure_policy(conn, id, &slug, index, now_ms).await?;
        let domain = format!("{slug}.example");
        out.push(Tenant {
            id: id.as_uuid(),
            currency,
            weight,
            vendor,
            reps: ["anna.berg", "ben.okafor", "chloe.martin", "dev.patel", "eva.novak", "felix.wong"]
                .iter()
                .map(|n| format!("{n}@{domain}"))
                .collect(),
            approvers: ["grace.hopper", "hugo.lindqvist", "ines.garcia"]
                .iter()
                .map(|n| format!("{n}@{domain}"))
                .collect(),
            escalation_approver: format!("head-of-sales@{domain}"),
            policy,
        });
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct PolicyRow {
    policy_id: Uuid,
    policy_version: i32,
    max_discount_bp: i32,
    max_total_minor: i64,
    sla_minutes: i32,
    created_at: chrono::DateTime<chrono::Utc>,
}

async fn load_policy(conn: &mut PgConnection, tenant: TenantId) -> crate::Result<Vec<PolicyRow>> {
    Ok(sqlx::query_as::<_, PolicyRow>(
        "select policy_id, policy_version, (max_discount_pct * 100)::int as max_discount_bp, max_total_minor,
                sla_minutes, created_at
         from cpq.approval_policy where tenant_id = $1 and name = $2
         order by created_at, policy_id, policy_version",
    )
    .bind(tenant)
    .bind(POLICY_NAME)
    .fetch_all(conn)
    .await?)
}

/// Finds the tenant's seeded policy or creates it: version 1, and for every other tenant a stricter
/// version 2 that replaced it 45 days ago (version 1 is then DISABLED; requests made before keep naming it).
async fn ensure_policy(
    conn: &mut PgConnection,
    tenant: TenantId,
    slug: &str,
    index: usize,
    now_ms: i64,
) -> crate::Result<Policy> {
    let mut rows = load_policy(conn, tenant).await?;
    if rows.is_empty() {
        let policy_id = Uuid::now_v7();
        let v1_discount = [1500, 2000, 1000, 2500][index % 4];
        let max_total: i64 = if index % 4 == 3 { 2_000_000 } else { 5_000_000 };
        let sla_minutes = if index < 2 { 240 } else { 480 };
        let two_versions = index & 1 == 0; // every other tenant (is_multiple_of is newer than rust-version)
        let day = 86_400_000_i64;
        let mut versions = vec![(1, v1_discount, now_ms - 150 * day, if two_versions { "DISABLED" } else { "ACTIVE" })];
        if two_versions {
            versions.push((2, v1_discount - 500, now_ms - 45 * day, "ACTIVE"));
        }
        for (version, discount_bp, created_ms, status) in versions {
            sqlx::query(
                "insert into cpq.approval_policy (policy_id, policy_version, tenant_id, name, max_discount_pct,
                                                  max_total_minor, approver_group, sla_minutes, status, created_by, created_at)
                 values ($1, $2, $3, $4, $5::numeric / 100, $6, $7, $8, $9, 'seed', to_timestamp($10::double precision / 1000))",
            )
            .bind(policy_id)
            .bind(version)
            .bind(tenant)
            .bind(POLICY_NAME)
            .bind(discount_bp)
            .bind(max_total)
            .bind(format!("{slug}-approvers-v{version}"))
            .bind(sla_minutes)
            .bind(status)
            .bind(created_ms)
            .execute(&mut *conn)
            .await?;
        }
        rows = load_policy(conn, tenant).await?;
    }
    // Should two policies carry the name, the first one's versions are used.
    let first = rows[0].policy_id;
    rows.retain(|r| r.policy_id == first);
    rows.sort_by_key(|r| r.policy_version);
    let newest = rows.last().expect("a policy has a version");
    Ok(Policy {
        policy_id: first,
        max_total_minor: newest.max_total_minor,
        sla_ms: i64::from(newest.sla_minutes) * 60_000,
        versions: rows
            .iter()
            .map(|r| PolicyVersion {
                version: r.policy_version,
                max_discount_bp: r.max_discount_bp,
                active_from: r.created_at.timestamp_millis(),
            })
            .collect(),
    })
}

/// (sku, description, list price in minor units).
pub const PRODUCTS: [(&str, &str, i64); 20] = [
    ("SKU-RTR-100", "Edge router R100", 45_000),
    ("SKU-RTR-300", "Core router R300", 189_000),
    ("SKU-SW-24", "Managed switch 24-port", 32_000),
    ("SKU-SW-48", "Managed switch 48-port", 58_000),
    ("SKU-AP-6", "Wi-Fi 6 access point", 21_500),
    ("SKU-FW-1", "Firewall appliance F1", 124_000),
    ("SKU-SRV-2U", "Rack server 2U", 249_000),
    ("SKU-NAS-8", "Storage array 8-bay", 162_000),
    ("SKU-UPS-3K", "UPS 3 kVA", 87_500),
    ("SKU-CBL-10", "Fibre patch cable pack", 1_250),
    ("SKU-SFP-10G", "SFP+ transceiver 10G", 3_900),
    ("SKU-LIC-SEC", "Security licence (1 year)", 18_000),
    ("SKU-LIC-MON", "Monitoring licence (1 year)", 9_600),
    ("SKU-SUP-GLD", "Gold support (1 year)", 64_000),
    ("SKU-SUP-SLV", "Silver support (1 year)", 29_000),
    ("SKU-INST-D", "Installation day", 95_000),
    ("SKU-TRN-1", "Admin training seat", 42_000),
    ("SKU-CAM-4K", "4K security camera", 15_900),
    ("SKU-PHN-IP", "IP desk phone", 8_900),
    ("SKU-RCK-42", "42U rack cabinet", 112_000),
];

const CUSTOMER_PREFIX: [&str; 24] = [
    "Northwind",
    "Blue Harbor",
    "Cedar",
    "Brightline",
    "Ironbridge",
    "Silverlake",
    "Redwood",
    "Summit",
    "Harborview",
    "Oakridge",
    "Granite",
    "Lakeshore",
    "Pinecrest",
    "Riverside",
    "Stonegate",
    "Westfield",
    "Eastgate",
    "Maple",
    "Highland",
    "Clearwater",
    "Goldfield",
    "Fairview",
    "Kingsbury",
    "Ashford",
];
const CUSTOMER_SUFFIX: [&str; 10] =
    ["Traders", "Logistics", "Health", "Foods", "Energy", "Capital", "Retail", "Labs", "Manufacturing", "Media"];

pub(super) const CUSTOMERS: usize = CUSTOMER_PREFIX.len() * CUSTOMER_SUFFIX.len();

pub(super) fn customer_name(i: usize) -> String {
    let i = i % CUSTOMERS;
    format!("{} {}", CUSTOMER_PREFIX[i % CUSTOMER_PREFIX.len()], CUSTOMER_SUFFIX[i / CUSTOMER_PREFIX.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(versions: &[(i32, i32, i64)]) -> Policy {
        Policy {
            policy_id: Uuid::nil(),
            versions: versions
                .iter()
                .map(|&(version, max_discount_bp, active_from)| PolicyVersion { version, max_discount_bp, active_from })
                .collect(),
            max_total_minor: 1,
            sla_ms: 1,
        }
    }

    #[test]
    fn the_version_in_force_is_the_newest_that_had_started() {
        let p = policy(&[(1, 1500, 0), (2, 1000, 100)]);
        assert_eq!(p.version_at(50).version, 1);
        assert_eq!(p.version_at(100).version, 2);
        assert_eq!(p.version_at(-5).version, 1);
    }

    #[test]
    fn low_and_high_discounts_are_clear_of_every_version() {
        let p = policy(&[(1, 1500, 0), (2, 1000, 100)]);
        assert_eq!(p.low_discount_bp(), 1000);
        assert_eq!(p.high_discount_bp(), 1600);
    }

    #[test]
    fn customer_names_are_distinct_over_the_whole_list() {
        let names: std::collections::HashSet<String> = (0..CUSTOMERS).map(customer_name).collect();
        assert_eq!(names.len(), CUSTOMERS);
    }

    #[test]
    fn extra_tenants_have_fixed_ids_and_slugs() {
        assert_eq!(extra_tenant_id(1).to_string(), "20000000-0000-4000-8000-000000000001");
        assert_eq!(extra_tenant(1).0, "hooli");
        assert_eq!(extra_tenant(12).0, "tenant-012");
    }
}

//! Where status updates go: webhooks that take Slack-compatible JSON (`{"text": "..."}`), each with a
//! name (what delivery records and the page show) and a URL. A webhook URL is a credential — whoever
//! holds a Slack incoming-webhook URL can post to the channel — so [`WebhookUrl`] never prints, never
//! serializes, and delivery errors are stripped of it before they are stored or logged.

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;

use super::status_update::Audience;
use crate::incident::TenantRef;

/// A webhook URL: shown as `https://host/***` at most, never whole.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct WebhookUrl(reqwest::Url);

impl WebhookUrl {
    pub fn parse(input: &str) -> Result<Self, WebhookConfigError> {
        let url = reqwest::Url::parse(input.trim()).map_err(|_| WebhookConfigError::Url)?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(WebhookConfigError::Url);
        }
        Ok(WebhookUrl(url))
    }

    /// The URL itself, for the one place that sends to it.
    pub fn expose(&self) -> &reqwest::Url {
        &self.0
    }
}

impl TryFrom<String> for WebhookUrl {
    type Error = WebhookConfigError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        WebhookUrl::parse(&value)
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}/***", self.0.scheme(), self.0.host_str().unwrap_or("?"))
    }
}

/// One configured webhook.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Unique; recorded on each delivery (`notification_delivery.webhook_name`).
    pub name: String,
    pub url: WebhookUrl,
    /// Which updates it receives. Default: INTERNAL only — a webhook that reaches customers must say
    /// `audiences = ["CUSTOMER"]`, so an internal update can never reach one by omission.
    #[serde(default = "internal_only")]
    pub audiences: BTreeSet<Audience>,
    /// The tenants (by slug or id) whose customers this webhook reaches. A CUSTOMER webhook must name at
    /// least one: a tenant's customer-facing update goes only to that tenant's webhooks. INTERNAL
    /// updates ignore it (internal webhooks get every update).
    #[serde(default)]
    pub tenants: BTreeSet<String>,
}

fn internal_only() -> BTreeSet<Audience> {
    BTreeSet::from([Audience::Internal])
}

impl WebhookConfig {
    pub fn new(name: impl Into<String>, url: WebhookUrl, audiences: impl IntoIterator<Item = Audience>) -> Self {
        WebhookConfig { name: name.into(), url, audiences: audiences.into_iter().collect(), tenants: BTreeSet::new() }
    }

    /// The same webhook, reaching the customers of these tenants (slugs or ids).
    pub fn for_tenants<'a>(mut self, tenants: impl IntoIterator<Item = &'a str>) -> Self {
        self.tenants = tenants.into_iter().map(str::to_string).collect();
        self
    }

    pub fn receives(&self, audience: Audience) -> bool {
        self.audiences.contains(&audience)
    }

    /// Whether an update for `audience` about an incident of `tenants` goes here: an internal update to
    /// every internal webhook; a customer update to the customer webhooks of one of its tenants (all of
    /// them for a platform-wide incident, which concerns every tenant).
    pub fn serves(&self, audience: Audience, tenants: &[TenantRef]) -> bool {
        match audience {
            Audience::Internal => self.receives(audience),
            Audience::Customer => {
                self.receives(audience)
                    && (tenants.is_empty()
                        || tenants.iter().any(|t| {
                            self.tenants.contains(&t.slug) || self.tenants.contains(&t.tenant_id.to_string())
                        }))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookConfigError {
    #[error("a webhook URL must be an http(s) URL with a host")]
    Url,
    #[error("webhook names must be 1 to 100 characters of letters, digits, '-', '_' or '.': {0:?}")]
    Name(String),
    #[error("two webhooks are named {0:?}")]
    Duplicate(String),
    #[error("webhook {0:?} receives no updates: give it at least one audience")]
    NoAudience(String),
    #[error("webhook {0:?} receives CUSTOMER updates: name the tenants whose customers it reaches (tenants = [\"acme\"])")]
    CustomerWithoutTenants(String),
}

/// The configured webhooks, checked: names unique and plain, each receiving something.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Webhooks(Vec<WebhookConfig>);

impl Webhooks {
    pub fn new(configs: Vec<WebhookConfig>) -> Result<Self, WebhookConfigError> {
        let mut names = BTreeSet::new();
        for config in &configs {
            let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
            if config.name.is_empty() || config.name.len() > 100 || !config.name.chars().all(plain) {
                return Err(WebhookConfigError::Name(config.name.clone()));
            }
            if !names.insert(config.name.clone()) {
                return Err(WebhookConfigError::Duplicate(config.name.clone()));
            }
            if config.audiences.is_empty() {
                return Err(WebhookConfigError::NoAudience(config.name.clone()));
            }
            if config.receives(Audience::Customer) && config.tenants.is_empty() {
                return Err(WebhookConfigError::CustomerWithoutTenants(config.name.clone()));
            }
        }
        Ok(Webhooks(configs))
    }

    pub fn none() -> Self {
        Webhooks(Vec::new())
    }

    pub fn get(&self, name: &str) -> Option<&WebhookConfig> {
        self.0.iter().find(|w| w.name == name)
    }

    /// The webhooks an update for `audience` about an incident of `tenants` goes to.
    pub fn for_update<'a>(
        &'a self,
        audience: Audience,
        tenants: &'a [TenantRef],
    ) -> impl Iterator<Item = &'a WebhookConfig> + 'a {
        self.0.iter().filter(move |w| w.serves(audience, tenants))
    }

    pub fn iter(&self) -> impl Iterator<Item = &WebhookConfig> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_url_never_shows_whole() {
        let url = WebhookUrl::parse("https://hooks.example.com/services/T000/B000/XXXXSECRET").unwrap();
        let config = WebhookConfig::new("ops-channel", url, [Audience::Internal]);
        let shown = format!("{config:?}");
        assert!(!shown.contains("XXXXSECRET"), "{shown}");
        assert!(shown.contains("https://hooks.example.com/***"), "{shown}");
    }

    #[test]
    fn only_http_urls_with_a_host_are_webhooks() {
        assert_eq!(WebhookUrl::parse("ftp://example.com/x"), Err(WebhookConfigError::Url));
        assert_eq!(WebhookUrl::parse("not a url"), Err(WebhookConfigError::Url));
        assert!(WebhookUrl::parse("http://127.0.0.1:9/hook").is_ok());
    }

    #[test]
    fn names_are_unique_plain_and_each_webhook_receives_something() {
        let url = || WebhookUrl::parse("https://example.com/hook").unwrap();
        let dup = Webhooks::new(vec![
            WebhookConfig::new("a", url(), [Audience::Internal]),
            WebhookConfig::new("a", url(), [Audience::Customer]),
        ]);
        assert_eq!(dup, Err(WebhookConfigError::Duplicate("a".into())));
        assert_eq!(
            Webhooks::new(vec![WebhookConfig::new("bad name", url(), [Audience::Internal])]),
            Err(WebhookConfigError::Name("bad name".into()))
        );
        assert_eq!(
            Webhooks::new(vec![WebhookConfig::new("quiet", url(), [])]),
            Err(WebhookConfigError::NoAudience("quiet".into()))
        );
    }

    fn tenant(slug: &str, id: platform::ids::TenantId) -> TenantRef {
        TenantRef { tenant_id: id, slug: slug.into(), name: slug.into() }
    }

    #[test]
    fn a_customer_update_goes_only_to_the_customer_webhooks_of_its_tenants() {
        use platform::tenants::{ACME, GLOBEX};
        let url = || WebhookUrl::parse("https://example.com/hook").unwrap();
        let hooks = Webhooks::new(vec![
            WebhookConfig::new("ops", url(), [Audience::Internal]),
            WebhookConfig::new("acme-status", url(), [Audience::Customer]).for_tenants(["acme"]),
            WebhookConfig::new("globex-status", url(), [Audience::Customer]).for_tenants([GLOBEX.to_string().as_str()]),
        ])
        .unwrap();
        let names = |audience, tenants: &[TenantRef]| {
            hooks.for_update(audience, tenants).map(|w| w.name.clone()).collect::<Vec<_>>()
        };
        let acme = [tenant("acme", ACME)];
        let globex = [tenant("globex", GLOBEX)];
        assert_eq!(names(Audience::Customer, &acme), ["acme-status"]);
        assert_eq!(names(Audience::Customer, &globex), ["globex-status"], "tenants may be named by id");
        assert_eq!(names(Audience::Customer, &[acme[0].clone(), globex[0].clone()]), ["acme-status", "globex-status"]);
        assert_eq!(names(Audience::Customer, &[]), ["acme-status", "globex-status"], "platform-wide: every tenant");
        assert_eq!(names(Audience::Internal, &acme), ["ops"], "internal webhooks get every internal update");
    }

    #[test]
    fn a_customer_webhook_must_name_its_tenants() {
        let url = WebhookUrl::parse("https://example.com/hook").unwrap();
        assert_eq!(
            Webhooks::new(vec![WebhookConfig::new("status-page", url, [Audience::Customer])]),
            Err(WebhookConfigError::CustomerWithoutTenants("status-page".into()))
        );
    }

    #[test]
    fn a_webhook_without_audiences_in_its_config_receives_internal_updates_only() {
        let config: WebhookConfig =
            serde_json::from_value(serde_json::json!({ "name": "ops", "url": "https://example.com/hook" })).unwrap();
        assert!(config.receives(Audience::Internal));
        assert!(!config.receives(Audience::Customer));
    }
}

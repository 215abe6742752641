//! The pages of signing in and out, shown by the server's `/auth/*` handlers outside the console's router:
//! they are seen by people who have no session (yet, or any more), so they carry no navigation and load
//! nothing. Each is one small complete document.

use leptos::prelude::*;

/// What a sign-in page says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInNotice {
    /// The session ended at the viewer's request.
    SignedOut,
    /// The identity provider does not answer, so nobody can sign in now. `retry` starts over.
    IdpUnavailable { issuer: String, retry: String },
    /// Sign-in did not complete; `message` says why in words the person can act on.
    Failed { message: String, retry: String },
    /// The console cannot read sessions (PostgreSQL is down).
    SessionsUnavailable,
}

impl SignInNotice {
    fn title(&self) -> &'static str {
        match self {
            SignInNotice::SignedOut => "Signed out",
            SignInNotice::IdpUnavailable { .. } => "Sign-in unavailable",
            SignInNotice::Failed { .. } => "Sign-in failed",
            SignInNotice::SessionsUnavailable => "Temporarily unavailable",
        }
    }
}

/// The whole HTML document for `notice`.
pub fn render(notice: &SignInNotice) -> String {
    let title = notice.title();
    let body = match notice.clone() {
        SignInNotice::SignedOut => view! {
            <section class="notice notice-info" role="status">
                <h1>"You have signed out"</h1>
                <p>"Your console session has ended, and so has your session at the identity provider."</p>
                <p><a href="/auth/login">"Sign in again"</a></p>
            </section>
        }
        .into_any(),
        SignInNotice::IdpUnavailable { issuer, retry } => view! {
            <section class="notice notice-bad" role="alert">
                <h1>"Sign-in is unavailable"</h1>
                <p>
                    "The identity provider (" <code>{issuer}</code> ") is not answering, so nobody can sign in "
                    "right now. Sessions already open continue. /readyz shows the state of each dependency."
                </p>
                <p><a href=retry>"Try again"</a></p>
            </section>
        }
        .into_any(),
        SignInNotice::Failed { message, retry } => view! {
            <section class="notice notice-bad" role="alert">
                <h1>"Sign-in failed"</h1>
                <p>{message}</p>
                <p><a href=retry>"Start again"</a></p>
            </section>
        }
        .into_any(),
        SignInNotice::SessionsUnavailable => view! {
            <section class="notice notice-bad" role="alert">
                <h1>"Temporarily unavailable"</h1>
                <p>
                    "PostgreSQL is not answering, so the console cannot read your session right now. "
                    "Try again shortly; /readyz shows the state of each dependency."
                </p>
            </section>
        }
        .into_any(),
    };
    let document = view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <title>{format!("{title} · opsdeck")}</title>
                <link rel="stylesheet" href="/style/opsdeck.css"/>
            </head>
            <body>
                <header class="topbar">
                    <span class="brand"><span class="brand-mark" aria-hidden="true">"◆"</span>"opsdeck"</span>
                </header>
                <main id="main" class="content content-narrow">{body}</main>
            </body>
        </html>
    };
    document.to_html()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unavailable_identity_provider_is_named_and_text_is_escaped() {
        let html = render(&SignInNotice::IdpUnavailable {
            issuer: "http://idp.example/<x>".into(),
            retry: "/auth/login?next=%2Forders".into(),
        });
        assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
        assert!(html.contains("<title>Sign-in unavailable · opsdeck</title>"), "{html}");
        assert!(html.contains("http://idp.example/&lt;x&gt;"), "{html}");
        assert!(html.contains(r#"href="/auth/login?next=%2Forders""#), "{html}");
        assert!(!html.contains("<script"));
    }
}

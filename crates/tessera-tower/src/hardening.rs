//! Response headers for HTML pages that carry a session: no framing (clickjacking a "sign out
//! everywhere" button), no MIME sniffing, no referrer (a URL never leaks to another site), and
//! a Content-Security-Policy that allows nothing but inline styles, same-origin forms and one
//! script, [`RESTORE_GUARD`].

use axum::http::{header, HeaderValue};
use axum::response::Response;

/// The script [`RESTORE_GUARD`] runs.
pub const RESTORE_GUARD_SCRIPT: &str =
    r#"addEventListener("pageshow",function(e){if(e.persisted)location.reload()})"#;

/// Put this in the `<head>` of every signed-in page: a page the browser restores from its
/// back/forward cache reloads itself, so it asks the server again. Chromium keeps
/// `Cache-Control: no-store` pages in that cache now, and after a sign-out the back button
/// showed the signed-in page from it (found by the browser test); with this, it shows the
/// sign-in page. [`security_headers`] allows exactly this script by its hash.
pub const RESTORE_GUARD: &str = concat!(
    "<script>",
    r#"addEventListener("pageshow",function(e){if(e.persisted)location.reload()})"#,
    "</script>"
);

/// Adds the page-hardening headers; use with `axum::middleware::map_response`.
pub async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            // The hash is SHA-256 of RESTORE_GUARD_SCRIPT (a test recomputes it).
            "default-src 'none'; script-src 'sha256-N90wwlrycsdQpiYAtOJJ9n72nI9e+wvtNYJ3cLHuPLo='; \
             style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use sha2::Digest as _;

    #[tokio::test]
    async fn the_policy_allows_exactly_the_restore_guard() {
        assert_eq!(
            RESTORE_GUARD,
            format!("<script>{RESTORE_GUARD_SCRIPT}</script>")
        );
        let hash = base64::engine::general_purpose::STANDARD
            .encode(sha2::Sha256::digest(RESTORE_GUARD_SCRIPT.as_bytes()));
        let r = security_headers(Response::new(axum::body::Body::empty())).await;
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(
            csp.contains(&format!("script-src 'sha256-{hash}';")),
            "{csp}"
        );
        assert!(csp.starts_with("default-src 'none';"));
    }
}

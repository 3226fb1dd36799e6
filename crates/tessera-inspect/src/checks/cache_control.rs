//! `cache-control`: authenticated pages are not cacheable.

use super::*;

pub(crate) async fn cache_control(ctx: &Ctx<'_>) -> CheckOutcome {
    let page = match ctx.signed_in_page().await {
        Ok(p) => p,
        Err(v) => return v,
    };
    let path = &ctx.target.authenticated.path;
    let cc = page.cache_control();
    if cc.split(',').any(|d| d.trim() == "no-store") {
        verdict(Status::Pass, format!("GET {path} → Cache-Control: {cc}"))
    } else if cc.is_empty() {
        verdict(Status::Fail, format!("GET {path} has no Cache-Control header: browsers and proxies may store the signed-in page (back button after logout)"))
    } else {
        verdict(
            Status::Fail,
            format!("GET {path} → Cache-Control: {cc} (no-store missing)"),
        )
    }
}

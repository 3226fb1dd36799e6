//! `hsts`: HTTPS responses carry Strict-Transport-Security.

use super::*;

pub(crate) async fn hsts(ctx: &Ctx<'_>) -> CheckOutcome {
    if ctx.agent.base().scheme() != "https" {
        return verdict(
            Status::Skip,
            "plain-HTTP target: HSTS applies to HTTPS deployments",
        );
    }
    let mut user = ctx.baseline.user.clone();
    let page = match user
        .send(Method::Get, &ctx.target.authenticated.path, &[], false)
        .await
    {
        Ok(p) => p,
        Err(e) => return error(e),
    };
    let Some(value) = page
        .headers
        .get("strict-transport-security")
        .and_then(|v| v.to_str().ok())
    else {
        return verdict(Status::Fail, "no Strict-Transport-Security header: a network attacker can downgrade the first visit and take the cookie");
    };
    let max_age = value
        .split(';')
        .find_map(|d| {
            d.trim()
                .to_ascii_lowercase()
                .strip_prefix("max-age=")
                .map(|v| v.trim_matches('"').parse::<u64>().unwrap_or(0))
        })
        .unwrap_or(0);
    if max_age >= 31_536_000 {
        verdict(Status::Pass, format!("Strict-Transport-Security: {value}"))
    } else {
        verdict(
            Status::Warn,
            format!("Strict-Transport-Security: {value} (max-age below one year)"),
        )
    }
}

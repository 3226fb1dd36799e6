//! `id-in-url`: tokens in URLs, seen or accepted.

use super::*;

/// Names under which apps commonly accept a session id from the URL.
const URL_PARAM_NAMES: &[&str] = &[
    "session",
    "sessionid",
    "session_id",
    "sid",
    "token",
    "id",
    "jsessionid",
    "phpsessid",
];

pub(crate) async fn id_in_url(ctx: &Ctx<'_>, tokens: &[String]) -> CheckOutcome {
    let (urls, _) = ctx.agent.seen();
    let leaked = urls.iter().find_map(|u| {
        tokens
            .iter()
            .filter(|t| t.len() >= 8)
            .find(|t| u.contains(t.as_str()))
            .map(|t| (u, t))
    });
    if let Some((url, token)) = leaked {
        let shown = url.replace(token.as_str(), &short(token));
        return verdict(
            Status::Fail,
            format!("a session token appears in a URL: {shown}"),
        );
    }
    // A fresh session: the baseline may have idled out by now, and an expired token proves
    // nothing about whether the URL is accepted.
    let token = match ctx.fresh_login().await {
        Ok(l) => l.token,
        Err(e) => return error(e),
    };
    let token = &token;
    let path = &ctx.target.authenticated.path;
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut names: Vec<String> = vec![ctx.cookie.clone()];
    names.extend(URL_PARAM_NAMES.iter().map(|n| (*n).to_owned()));
    for name in &names {
        let mut probe = ctx.agent.user();
        let encoded: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
        let p = format!("{path}{sep}{name}={encoded}");
        match probe.send(Method::Get, &p, &[], false).await {
            Ok(page) if crate::agent::authenticated(&page, &ctx.target.authenticated) => {
                return verdict(Status::Fail, format!("the app accepts the session token from the query string: GET {path}{sep}{name}=… authenticates without a cookie"));
            }
            Ok(_) => {}
            Err(e) => return error(e),
        }
    }
    let (dropped, _) = ctx.agent.dropped();
    let unread = if dropped > 0 {
        format!(" ({dropped} more URLs were not kept: the run's URL budget was spent)")
    } else {
        String::new()
    };
    verdict(Status::Pass, format!("no token in {} URLs seen{unread}; the token is not accepted from the query string ({} parameter names tried)", urls.len(), names.len()))
}

//! Cookie attributes: `cookie-secure`, `cookie-httponly`, `cookie-samesite`, `cookie-prefix`, `cookie-scope`.

use super::*;

/// The attributes of a `Set-Cookie` header as written, lower-cased names. The `cookie` crate
/// drops attributes it finds invalid (e.g. `SameSite=Bogus`); an auditor must see them.
fn attributes(header: &str) -> Vec<(String, Option<String>)> {
    header
        .split(';')
        .skip(1)
        .map(|part| match part.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim().to_owned())),
            None => (part.trim().to_ascii_lowercase(), None),
        })
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

fn attr<'a>(attrs: &'a [(String, Option<String>)], name: &str) -> Option<&'a Option<String>> {
    attrs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v)
}

pub(crate) fn cookie_checks(ctx: &Ctx<'_>) -> Vec<Finding> {
    let Some(header) = ctx.set_cookie_header() else {
        let why = "the Set-Cookie that delivered the session token was not seen (set by script?)";
        return [
            CheckId::CookieSecure,
            CheckId::CookieHttpOnly,
            CheckId::CookieSamesite,
            CheckId::CookiePrefix,
            CheckId::CookieScope,
        ]
        .iter()
        .map(|id| finding(*id, verdict(Status::Error, why)))
        .collect();
    };
    let attrs = attributes(&header);
    let name = ctx.cookie.as_str();
    let shown = format!("Set-Cookie: {}={}; {}", name, short(&ctx.baseline.token), {
        attrs
            .iter()
            .map(|(k, v)| v.as_ref().map_or(k.clone(), |v| format!("{k}={v}")))
            .collect::<Vec<_>>()
            .join("; ")
    });
    let secure = attr(&attrs, "secure").is_some();
    let mut out = Vec::new();
    out.push(finding(
        CheckId::CookieSecure,
        if secure {
            verdict(Status::Pass, shown.clone())
        } else {
            verdict(
                Status::Fail,
                format!("no Secure attribute: the token can travel over plain HTTP. {shown}"),
            )
        },
    ));
    out.push(finding(
        CheckId::CookieHttpOnly,
        if attr(&attrs, "httponly").is_some() {
            verdict(Status::Pass, shown.clone())
        } else {
            verdict(
                Status::Fail,
                format!("no HttpOnly attribute: scripts (XSS) can read the token. {shown}"),
            )
        },
    ));
    let samesite =
        attr(&attrs, "samesite").map(|v| v.clone().unwrap_or_default().to_ascii_lowercase());
    out.push(finding(
        CheckId::CookieSamesite,
        match samesite.as_deref() {
            Some("lax") | Some("strict") => verdict(Status::Pass, shown.clone()),
            Some("none") => verdict(Status::Fail, format!("SameSite=None: the cookie rides on cross-site requests. {shown}")),
            Some(other) => verdict(Status::Fail, format!("invalid SameSite value {other:?}: browsers differ in what they do with it. {shown}")),
            None => verdict(Status::Fail, format!("no SameSite attribute: protection depends on each browser's default. {shown}")),
        },
    ));
    let domain = attr(&attrs, "domain")
        .and_then(|v| v.clone())
        .filter(|d| !d.is_empty());
    let path = attr(&attrs, "path").and_then(|v| v.clone());
    let lower = name.to_ascii_lowercase();
    out.push(finding(
        CheckId::CookiePrefix,
        if lower.starts_with("__host-") {
            if secure && domain.is_none() && path.as_deref() == Some("/") {
                verdict(Status::Pass, format!("{name} with Secure, Path=/ and no Domain"))
            } else {
                verdict(Status::Fail, format!("{name} breaks the __Host- rules (Secure, Path=/, no Domain), so browsers reject it. {shown}"))
            }
        } else if lower.starts_with("__secure-") {
            // ASVS 5.0 3.3.1 asks for either prefix; __Secure- meets it.
            if secure {
                verdict(Status::Pass, format!("{name} with Secure (meets ASVS 3.3.1; __Host- is stricter: it also locks the cookie to this host and Path=/)"))
            } else {
                verdict(Status::Fail, format!("{name} lacks Secure, so browsers reject the __Secure- cookie. {shown}"))
            }
        } else {
            verdict(Status::Warn, format!("{name} has no __Host- or __Secure- prefix: a sibling subdomain or a plain-HTTP page can set or overwrite it"))
        },
    ));
    let host = ctx
        .agent
        .base()
        .host_str()
        .unwrap_or("")
        .to_ascii_lowercase();
    out.push(finding(
        CheckId::CookieScope,
        match &domain {
            None => verdict(Status::Pass, format!("no Domain attribute: sent to {host} only; Path={}", path.as_deref().unwrap_or("(default)"))),
            Some(d) => {
                let d = d.trim_start_matches('.').to_ascii_lowercase();
                if d != host && host.ends_with(&format!(".{d}")) {
                    verdict(Status::Fail, format!("Domain={d} is broader than the host {host}: every subdomain of {d} receives the token"))
                } else {
                    verdict(Status::Warn, format!("Domain={d} set: the cookie is also sent to every subdomain of {d}; omit Domain"))
                }
            }
        },
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_read_as_written() {
        let a = attributes("sid=abc; Path=/; SameSite=Bogus; HttpOnly; domain=.example.com");
        assert_eq!(attr(&a, "samesite"), Some(&Some("Bogus".into())));
        assert_eq!(attr(&a, "httponly"), Some(&None));
        assert_eq!(attr(&a, "domain"), Some(&Some(".example.com".into())));
        assert_eq!(attr(&a, "secure"), None);
    }
}

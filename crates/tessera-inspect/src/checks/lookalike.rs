//! `cookie-name-lookalike`: the app's own valid token, presented under names a browser keeps
//! apart from the session cookie's but a lax server parser folds into it.
//!
//! A sibling subdomain (or a plain-HTTP page) can set `\u{2000}__Host-sid`: browsers do not treat
//! that name as prefixed, so none of the `__Host-` guarantees apply to it. A server whose cookie
//! parser trims Unicode spaces (the `cookie` crate's `str::trim`, among others), drops a BOM,
//! percent-decodes names or ignores case reads it as `__Host-sid`, and signs the victim in as
//! whoever planted it. Leading and trailing ASCII space and tab are not tried: RFC 6265 and
//! browsers trim those too.

use super::*;

/// One name tried, and whether it is a prefix bypass when it works.
struct Variant {
    label: &'static str,
    name: String,
    /// A Unicode-space, zero-width or percent-encoded variant: for a prefixed name, being read
    /// as the session cookie defeats the prefix. A case variant only shows a lax parser.
    bypass: bool,
}

/// Characters a lax parser strips around a name and a browser keeps: (label, before, after).
const SPACES: [(&str, &str, &str); 4] = [
    ("leading U+2000 (en quad)", "\u{2000}", ""),
    ("leading U+00A0 (no-break space)", "\u{a0}", ""),
    ("leading U+FEFF (zero-width no-break space)", "\u{feff}", ""),
    ("trailing U+3000 (ideographic space)", "", "\u{3000}"),
];

fn variants(name: &str) -> Vec<Variant> {
    let mut out: Vec<Variant> = SPACES
        .iter()
        .map(|(label, before, after)| Variant {
            label,
            name: format!("{before}{name}{after}"),
            bypass: true,
        })
        .collect();
    if let Some(first) = name.chars().next().filter(char::is_ascii) {
        out.push(Variant {
            label: "first character %-encoded",
            name: format!("%{:02X}{}", u32::from(first), name.get(1..).unwrap_or("")),
            bypass: true,
        });
    }
    let swapped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    if swapped != name {
        out.push(Variant {
            label: "letter case swapped",
            name: swapped,
            bypass: false,
        });
    }
    out
}

pub(crate) async fn cookie_name_lookalike(ctx: &Ctx<'_>) -> CheckOutcome {
    let l = match ctx.fresh_login().await {
        Ok(l) => l,
        Err(e) => return error(e),
    };
    let token = l.token;
    // Control: under its own name the token signs in, so a refusal below is the name's doing.
    match ctx.replay(&token).is_authenticated(&ctx.target.authenticated).await {
        Ok(true) => {}
        Ok(false) => {
            return verdict(
                Status::Error,
                format!("control failed: a fresh session's token {} did not authenticate under its own name", short(&token)),
            )
        }
        Err(e) => return error(e),
    }
    let lower = ctx.cookie.to_ascii_lowercase();
    let prefixed = lower.starts_with("__host-") || lower.starts_with("__secure-");
    let (mut bypasses, mut lax, mut tried, mut lines) = (0, 0, 0, Vec::new());
    for v in variants(&ctx.cookie) {
        let mut user = ctx.agent.user();
        user.set_cookie(&v.name, &token);
        match user.is_authenticated(&ctx.target.authenticated).await {
            Ok(true) => {
                tried += 1;
                if v.bypass && prefixed {
                    bypasses += 1;
                } else {
                    lax += 1;
                }
                lines.push(format!("{}: SIGNED IN", v.label));
            }
            Ok(false) => {
                tried += 1;
                lines.push(format!("{}: refused", v.label));
            }
            Err(e) => lines.push(format!("{}: could not be sent ({e})", v.label)),
        }
    }
    if tried == 0 {
        return verdict(
            Status::Error,
            format!("no variant could be sent: {}", lines.join("; ")),
        );
    }
    let tried_text = format!(
        "the token {} of a fresh session under look-alike names of {}: {}",
        short(&token),
        ctx.cookie,
        lines.join("; ")
    );
    if bypasses > 0 {
        verdict(
            Status::Fail,
            format!("prefix bypass: a cookie a sibling subdomain can set is read as the {} cookie, so an attacker can sign a victim in to the attacker's session. Tried {tried_text}", ctx.cookie),
        )
    } else if lax > 0 {
        verdict(
            Status::Warn,
            format!("the server's cookie parser folds names a browser keeps apart (a parser inconsistency{}). Tried {tried_text}", if prefixed { "" } else { "; without a __Host- or __Secure- prefix, a sibling can set the exact name anyway" }),
        )
    } else {
        verdict(
            Status::Pass,
            format!("only the exact name is the session cookie. Tried {tried_text}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::variants;

    #[test]
    fn variants_are_what_browsers_keep_apart() {
        let v = variants("__Host-sid");
        let names: Vec<&str> = v.iter().map(|v| v.name.as_str()).collect();
        assert!(names.contains(&"\u{2000}__Host-sid") && names.contains(&"__Host-sid\u{3000}"));
        assert!(names.contains(&"%5F_Host-sid") && names.contains(&"__hOST-SID"));
        // RFC 6265 trims ASCII space and tab: those are not look-alikes, never tried.
        assert!(names
            .iter()
            .all(|n| !n.starts_with(' ') && !n.ends_with('\t')));
        assert!(v.iter().filter(|v| !v.bypass).count() == 1);
    }
}
